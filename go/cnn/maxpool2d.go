package cnn

import (
	"fmt"
	"math"
)

// MaxPool2d takes the largest value of each window:
//
//	y[n, c, i, j] = max_{p, q} x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w]   (padding is -inf: never chosen)
//
// Backward: each dL/dy[n, c, i, j] goes to the position its window's maximum came from (the first
// one in row-major order on ties); windows that overlap add their gradients.
type MaxPool2d struct {
	Kernel, Stride, Padding, Dilation [2]int
	CeilMode                          bool
	inputShape, outputShape           []int
	argmax                            []int // for each output, the flat index of its maximum in the input
}

// NewMaxPool2d is a square max pooling (stride = kernel, as PyTorch's default when stride is None).
func NewMaxPool2d(kernel, stride, padding int) *MaxPool2d {
	return &MaxPool2d{Kernel: [2]int{kernel, kernel}, Stride: [2]int{stride, stride},
		Padding: [2]int{padding, padding}, Dilation: [2]int{1, 1}}
}

func (m *MaxPool2d) Label() string {
	return fmt.Sprintf("MaxPool2d(kernel_size=%v, stride=%v)", m.Kernel, m.Stride)
}
func (m *MaxPool2d) State() []Named { return nil }

func (m *MaxPool2d) Forward(x *Tensor) *Tensor {
	n, c, h, w, oh, ow := poolGeometry(m.Label(), x, m.Kernel, m.Stride, m.Padding, m.Dilation, m.CeilMode)
	y := New(n, c, oh, ow)
	m.argmax = make([]int, len(y.Data))
	m.inputShape, m.outputShape = x.Shape, y.Shape
	for plane := 0; plane < n*c; plane++ {
		in := x.Data[plane*h*w : (plane+1)*h*w]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best, where := math.Inf(-1), -1
				for p := 0; p < m.Kernel[0]; p++ {
					r := i*m.Stride[0] - m.Padding[0] + p*m.Dilation[0]
					if r < 0 || r >= h {
						continue
					}
					for q := 0; q < m.Kernel[1]; q++ {
						s := j*m.Stride[1] - m.Padding[1] + q*m.Dilation[1]
						if s < 0 || s >= w {
							continue
						}
						if v := in[r*w+s]; where < 0 || v > best || (math.IsNaN(v) && !math.IsNaN(best)) {
							best, where = v, r*w+s
						}
					}
				}
				out := (plane*oh+i)*ow + j
				y.Data[out], m.argmax[out] = best, plane*h*w+where
			}
		}
	}
	return y
}

func (m *MaxPool2d) Backward(gradOut *Tensor) *Tensor {
	checkGrad(m.Label(), gradOut, m.outputShape)
	dx := New(m.inputShape...)
	for out, g := range gradOut.Data {
		dx.Data[m.argmax[out]] += g
	}
	return dx
}
