package cnn

// ReLU is the rectified linear unit, elementwise:
//
//	y = max(0, x)
//
// Backward: dL/dx = dL/dy where x > 0, else 0 (the derivative at 0 is taken as 0, as PyTorch does).
type ReLU struct{ input *Tensor }

func (r *ReLU) Label() string  { return "ReLU()" }
func (r *ReLU) State() []Named { return nil }

func (r *ReLU) Forward(x *Tensor) *Tensor {
	y := New(x.Shape...)
	for i, v := range x.Data {
		if v > 0 {
			y.Data[i] = v
		}
	}
	r.input = x
	return y
}

func (r *ReLU) Backward(gradOut *Tensor) *Tensor {
	checkGrad(r.Label(), gradOut, r.input.Shape)
	dx := New(gradOut.Shape...)
	for i, v := range r.input.Data {
		if v > 0 {
			dx.Data[i] = gradOut.Data[i]
		}
	}
	return dx
}
