package cnn

import "math"

// Tanh is the hyperbolic tangent, elementwise (LeNet-5's activation):
//
//	y = tanh(x)
//
// Backward: dL/dx = dL/dy * (1 - y^2).
type Tanh struct{ output *Tensor }

func (t *Tanh) Label() string  { return "Tanh()" }
func (t *Tanh) State() []Named { return nil }

func (t *Tanh) Forward(x *Tensor) *Tensor {
	y := New(x.Shape...)
	for i, v := range x.Data {
		y.Data[i] = math.Tanh(v)
	}
	t.output = y
	return y
}

func (t *Tanh) Backward(gradOut *Tensor) *Tensor {
	checkGrad(t.Label(), gradOut, t.output.Shape)
	dx := New(gradOut.Shape...)
	for i, y := range t.output.Data {
		dx.Data[i] = gradOut.Data[i] * (1 - y*y)
	}
	return dx
}
