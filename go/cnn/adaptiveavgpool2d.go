package cnn

import "fmt"

// AdaptiveAvgPool2d averages windows chosen so that the output has a given size (PyTorch's):
//
//	y[n, c, i, j] = mean of x[n, c, a_i:b_i, e_j:f_j],  a_i = floor(i*H/H_out), b_i = ceil((i+1)*H/H_out)
//
// (columns alike). OutH or OutW of 0 keeps that size. Global average pooling is OutH = OutW = 1.
// Backward: each dL/dy[n, c, i, j] / (window size) is added to every position of its window.
type AdaptiveAvgPool2d struct {
	OutH, OutW int
	inputShape []int
}

func (a *AdaptiveAvgPool2d) Label() string {
	return fmt.Sprintf("AdaptiveAvgPool2d(output_size=(%d, %d))", a.OutH, a.OutW)
}
func (a *AdaptiveAvgPool2d) State() []Named { return nil }

func (a *AdaptiveAvgPool2d) size(h, w int) (int, int) {
	oh, ow := a.OutH, a.OutW
	if oh == 0 {
		oh = h
	}
	if ow == 0 {
		ow = w
	}
	return oh, ow
}

// adaptiveWindow is [floor(i*size/out), ceil((i+1)*size/out)).
func adaptiveWindow(i, size, out int) (int, int) {
	return i * size / out, ((i+1)*size + out - 1) / out
}

func (a *AdaptiveAvgPool2d) Forward(x *Tensor) *Tensor {
	checkInput(a.Label(), x, 0)
	n, c, h, w := x.Dims4()
	oh, ow := a.size(h, w)
	y := New(n, c, oh, ow)
	a.inputShape = x.Shape
	for plane := 0; plane < n*c; plane++ {
		in := x.Data[plane*h*w : (plane+1)*h*w]
		for i := 0; i < oh; i++ {
			r0, r1 := adaptiveWindow(i, h, oh)
			for j := 0; j < ow; j++ {
				s0, s1 := adaptiveWindow(j, w, ow)
				sum := 0.0
				for r := r0; r < r1; r++ {
					for s := s0; s < s1; s++ {
						sum += in[r*w+s]
					}
				}
				y.Data[(plane*oh+i)*ow+j] = sum / float64((r1-r0)*(s1-s0))
			}
		}
	}
	return y
}

func (a *AdaptiveAvgPool2d) Backward(gradOut *Tensor) *Tensor {
	n, c, h, w := a.inputShape[0], a.inputShape[1], a.inputShape[2], a.inputShape[3]
	oh, ow := a.size(h, w)
	checkGrad(a.Label(), gradOut, []int{n, c, oh, ow})
	dx := New(a.inputShape...)
	for plane := 0; plane < n*c; plane++ {
		d := dx.Data[plane*h*w : (plane+1)*h*w]
		for i := 0; i < oh; i++ {
			r0, r1 := adaptiveWindow(i, h, oh)
			for j := 0; j < ow; j++ {
				s0, s1 := adaptiveWindow(j, w, ow)
				g := gradOut.Data[(plane*oh+i)*ow+j] / float64((r1-r0)*(s1-s0))
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
