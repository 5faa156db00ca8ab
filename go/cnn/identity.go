package cnn

// Identity is y = x with dL/dx = dL/dy. strided's Identity is one; so is Dropout (and Dropout2d)
// at inference, which is all Go runs of it: in evaluation mode dropout passes its input through
// unchanged (the 1/(1-p) scaling happens during training, in strided).
type Identity struct{ Name string }

func (d *Identity) Label() string                    { return d.Name + "()" }
func (d *Identity) State() []Named                   { return nil }
func (d *Identity) Forward(x *Tensor) *Tensor        { return x }
func (d *Identity) Backward(gradOut *Tensor) *Tensor { return gradOut }
