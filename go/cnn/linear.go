package cnn

import "fmt"

// Linear is a fully connected layer on (N, in) inputs:
//
//	y[n, o] = b[o] + sum_i x[n, i] * W[o, i]        (y = x @ W^T + b; W is (out, in), as in PyTorch)
//
// Backward, with g = dL/dy (N, out):
//
//	dL/dW = g^T @ x      dL/db = sum_n g[n, :]      dL/dx = g @ W
type Linear struct {
	In, Out            int
	Weight, WeightGrad *Tensor
	Bias, BiasGrad     *Tensor // nil without a bias
	input              *Tensor
}

// NewLinear returns a linear layer with zero weights (load them, or use InitUniform).
func NewLinear(in, out int, bias bool) *Linear {
	l := &Linear{In: in, Out: out, Weight: New(out, in), WeightGrad: New(out, in)}
	if bias {
		l.Bias, l.BiasGrad = New(out), New(out)
	}
	return l
}

func (l *Linear) Label() string { return fmt.Sprintf("Linear(%d -> %d)", l.In, l.Out) }

func (l *Linear) State() []Named {
	state := []Named{{"weight", l.Weight, l.WeightGrad}}
	if l.Bias != nil {
		state = append(state, Named{"bias", l.Bias, l.BiasGrad})
	}
	return state
}

func (l *Linear) Forward(x *Tensor) *Tensor {
	if len(x.Shape) != 2 || x.Shape[1] != l.In {
		panic(fmt.Errorf("%s: expected input of shape (N, %d), got %s", l.Label(), l.In, ShapeString(x.Shape)))
	}
	n := x.Shape[0]
	y := New(n, l.Out)
	if l.Bias != nil {
		for b := 0; b < n; b++ {
			copy(y.Data[b*l.Out:(b+1)*l.Out], l.Bias.Data)
		}
	}
	matMulTransBAdd(y.Data, x.Data, l.Weight.Data, n, l.In, l.Out) // y += x @ W^T
	l.input = x
	return y
}

func (l *Linear) Backward(gradOut *Tensor) *Tensor {
	n := l.input.Shape[0]
	checkGrad(l.Label(), gradOut, []int{n, l.Out})
	matMulTransAAdd(l.WeightGrad.Data, gradOut.Data, l.input.Data, n, l.Out, l.In) // dW += g^T @ x
	if l.Bias != nil {
		for b := 0; b < n; b++ {
			for o, g := range gradOut.Data[b*l.Out : (b+1)*l.Out] {
				l.BiasGrad.Data[o] += g
			}
		}
	}
	dx := New(n, l.In)
	matMulAdd(dx.Data, gradOut.Data, l.Weight.Data, n, l.Out, l.In) // dx = g @ W
	return dx
}
