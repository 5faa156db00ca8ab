package cnn

import "fmt"

// Sequential is a chain: y = m_n(...m_2(m_1(x))). Backward is the chain rule in reverse:
// dL/dx = m_1.Backward(...m_n.Backward(dL/dy)). Children are named 0, 1, ... (state "0.weight").
type Sequential struct{ Modules []Module }

func (s *Sequential) Label() string { return fmt.Sprintf("Sequential(%d modules)", len(s.Modules)) }

func (s *Sequential) State() []Named {
	var state []Named
	for i, m := range s.Modules {
		state = append(state, prefixed(fmt.Sprint(i), m.State())...)
	}
	return state
}

func (s *Sequential) Forward(x *Tensor) *Tensor {
	for _, m := range s.Modules {
		x = m.Forward(x)
	}
	return x
}

func (s *Sequential) Backward(gradOut *Tensor) *Tensor {
	for i := len(s.Modules) - 1; i >= 0; i-- {
		gradOut = s.Modules[i].Backward(gradOut)
	}
	return gradOut
}
