package cnn

import "fmt"

// Module is a layer or a block: Forward computes its output and keeps what Backward needs;
// Backward takes dL/d(output) of the last Forward, adds into the gradients of its parameters
// and returns dL/d(input). There is no autograd tape: each layer's gradient is written out.
type Module interface {
	Forward(x *Tensor) *Tensor
	Backward(gradOut *Tensor) *Tensor
	// State lists the module's tensors under strided's (PyTorch's) state_dict names.
	State() []Named
	Label() string
}

// Named is one tensor of a module's state: a parameter (Grad holds its gradient) or a buffer
// such as batch norm's running mean (Grad is nil).
type Named struct {
	Name  string
	Value *Tensor
	Grad  *Tensor
}

// Parameters are the named tensors that have gradients (what an optimizer updates).
func Parameters(m Module) []Named {
	var params []Named
	for _, n := range m.State() {
		if n.Grad != nil {
			params = append(params, n)
		}
	}
	return params
}

// ZeroGrad sets every parameter gradient of m to zero (backward adds into them).
func ZeroGrad(m Module) {
	for _, p := range Parameters(m) {
		for i := range p.Grad.Data {
			p.Grad.Data[i] = 0
		}
	}
}

// prefixed names a child's state under the child's name, as PyTorch's state_dict does.
func prefixed(prefix string, state []Named) []Named {
	out := make([]Named, len(state))
	for i, n := range state {
		n.Name = prefix + "." + n.Name
		out[i] = n
	}
	return out
}

// inferenceOnly is the Backward of the layers this package runs for inference only.
func inferenceOnly(label string) *Tensor {
	panic(fmt.Errorf("%s: backward is not implemented in Go (this layer runs for inference only)", label))
}
