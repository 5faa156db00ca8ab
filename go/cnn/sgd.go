package cnn

// SGD is stochastic gradient descent with momentum and weight decay, PyTorch's torch.optim.SGD
// (dampening 0, not Nesterov). For each parameter p with gradient g:
//
//	g = g + weight_decay * p
//	v = momentum * v + g          (v starts at 0, so the first step is v = g)
//	p = p - lr * v
type SGD struct {
	LR, Momentum, WeightDecay float64
	params                    []Named
	velocity                  [][]float64
}

// NewSGD returns an optimizer over the parameters of m.
func NewSGD(m Module, lr, momentum, weightDecay float64) *SGD {
	params := Parameters(m)
	velocity := make([][]float64, len(params))
	for i, p := range params {
		velocity[i] = make([]float64, len(p.Value.Data))
	}
	return &SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay, params: params, velocity: velocity}
}

// Step updates every parameter from its gradient (call ZeroGrad before the next backward).
func (o *SGD) Step() {
	for i, p := range o.params {
		v := o.velocity[i]
		for j, g := range p.Grad.Data {
			g += o.WeightDecay * p.Value.Data[j]
			v[j] = o.Momentum*v[j] + g
			p.Value.Data[j] -= o.LR * v[j]
		}
	}
}
