package cnn

import "fmt"

// AvgPool2d averages each window (PyTorch's AvgPool2d):
//
//	y[n, c, i, j] = (1 / D) * sum_{(r, s) in window(i, j), inside x} x[n, c, r, s]
//
// with the window rows r = i*s_h - pad_h ... + K_h - 1 (columns alike), and the divisor D the
// window's size counting padding (count_include_pad, the default), or only the pixels inside x,
// or DivisorOverride when it is set.
//
// Backward: dL/dx[n, c, r, s] = sum over the windows (i, j) containing (r, s) of dL/dy[n, c, i, j] / D(i, j).
type AvgPool2d struct {
	Kernel, Stride, Padding [2]int
	CeilMode                bool
	CountIncludePad         bool
	DivisorOverride         int // 0: none
	inputShape              []int
}

// NewAvgPool2d is a square average pooling with PyTorch's defaults (padding counted in the divisor).
func NewAvgPool2d(kernel, stride, padding int) *AvgPool2d {
	return &AvgPool2d{Kernel: [2]int{kernel, kernel}, Stride: [2]int{stride, stride},
		Padding: [2]int{padding, padding}, CountIncludePad: true}
}

func (a *AvgPool2d) Label() string {
	return fmt.Sprintf("AvgPool2d(kernel_size=%v, stride=%v)", a.Kernel, a.Stride)
}
func (a *AvgPool2d) State() []Named { return nil }

// window returns the rows [r0, r1) and columns [s0, s1) of output (i, j) inside x, and its divisor.
func (a *AvgPool2d) window(i, j, h, w int) (r0, r1, s0, s1 int, divisor float64) {
	r0, s0 = i*a.Stride[0]-a.Padding[0], j*a.Stride[1]-a.Padding[1]
	r1, s1 = MinInt(r0+a.Kernel[0], h+a.Padding[0]), MinInt(s0+a.Kernel[1], w+a.Padding[1])
	padded := (r1 - r0) * (s1 - s0)
	r0, s0, r1, s1 = MaxInt(r0, 0), MaxInt(s0, 0), MinInt(r1, h), MinInt(s1, w)
	switch {
	case a.DivisorOverride > 0:
		divisor = float64(a.DivisorOverride)
	case a.CountIncludePad:
		divisor = float64(padded)
	default:
		divisor = float64((r1 - r0) * (s1 - s0))
	}
	return
}

func (a *AvgPool2d) Forward(x *Tensor) *Tensor {
	n, c, h, w, oh, ow := poolGeometry(a.Label(), x, a.Kernel, a.Stride, a.Padding, [2]int{1, 1}, a.CeilMode)
	y := New(n, c, oh, ow)
	a.inputShape = x.Shape
	for plane := 0; plane < n*c; plane++ {
		in := x.Data[plane*h*w : (plane+1)*h*w]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				r0, r1, s0, s1, divisor := a.window(i, j, h, w)
				sum := 0.0
				for r := r0; r < r1; r++ {
					for s := s0; s < s1; s++ {
						sum += in[r*w+s]
					}
				}
				y.Data[(plane*oh+i)*ow+j] = sum / divisor
			}
		}
	}
	return y
}

func (a *AvgPool2d) Backward(gradOut *Tensor) *Tensor {
	n, c, h, w := a.inputShape[0], a.inputShape[1], a.inputShape[2], a.inputShape[3]
	oh := poolOutputSize(h, a.Kernel[0], a.Stride[0], a.Padding[0], 1, a.CeilMode)
	ow := poolOutputSize(w, a.Kernel[1], a.Stride[1], a.Padding[1], 1, a.CeilMode)
	checkGrad(a.Label(), gradOut, []int{n, c, oh, ow})
	dx := New(a.inputShape...)
	for plane := 0; plane < n*c; plane++ {
		d := dx.Data[plane*h*w : (plane+1)*h*w]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				r0, r1, s0, s1, divisor := a.window(i, j, h, w)
				g := gradOut.Data[(plane*oh+i)*ow+j] / divisor
				for r := r0; r < r1; r++ {
					for s := s0; s < s1; s++ {
						d[r*w+s] += g
					}
				}
			}
		}
	}
	return dx
}
