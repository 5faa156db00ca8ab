package cnn

import "fmt"

// Flatten merges every dimension after the first: (N, C, H, W) -> (N, C*H*W), the order of the
// values unchanged (strided's Flatten with its defaults, start_dim=1, end_dim=-1).
//
// Backward: dL/dx is dL/dy reshaped back to the input's shape.
type Flatten struct{ inputShape []int }

func (f *Flatten) Label() string  { return "Flatten(start_dim=1, end_dim=-1)" }
func (f *Flatten) State() []Named { return nil }

func (f *Flatten) Forward(x *Tensor) *Tensor {
	if len(x.Shape) < 1 {
		panic(fmt.Errorf("%s: expected an input with a batch dimension, got %s", f.Label(), ShapeString(x.Shape)))
	}
	f.inputShape = x.Shape
	return x.Reshape(x.Shape[0], len(x.Data)/MaxInt(x.Shape[0], 1))
}

func (f *Flatten) Backward(gradOut *Tensor) *Tensor {
	checkGrad(f.Label(), gradOut, []int{f.inputShape[0], Numel(f.inputShape) / MaxInt(f.inputShape[0], 1)})
	return gradOut.Reshape(f.inputShape...)
}
