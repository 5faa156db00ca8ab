package cnn

import (
	"math"
	"math/rand"
	"testing"
)

// Numerical gradients: every backward written in this package is checked against central
// differences of L = sum(y * r) (r random, so dL/dy = r) in float64, without any Python:
//
//	dL/dv ~ (L(v + eps) - L(v - eps)) / (2 eps)     for the input and every parameter value v.

const (
	eps          = 1e-6
	numTolerance = 1e-6 // relative to the largest analytic gradient; float64 differences reach ~1e-9
	checksPer    = 40   // values checked per tensor (all of them when fewer)
)

func randomTensor(rng *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = rng.NormFloat64()
	}
	return t
}

func randomizeParams(rng *rand.Rand, m Module) {
	for _, p := range Parameters(m) {
		for i := range p.Value.Data {
			p.Value.Data[i] = rng.Float64()*2 - 1
		}
	}
}

func weighted(y, r *Tensor) float64 {
	s := 0.0
	for i, v := range y.Data {
		s += v * r.Data[i]
	}
	return s
}

func checkNumerical(t *testing.T, name string, m Module, x *Tensor, rng *rand.Rand) {
	t.Helper()
	for what, worst := range numericalErrors(m, x, rng) {
		if worst > numTolerance {
			t.Errorf("%s: d/d%s: analytic and numerical gradients differ by %.2e (relative) > %.0e", name, what,
				worst, numTolerance)
		}
	}
}

// numericalErrors returns, for the input and each parameter, the largest difference between
// backward's gradient and the central difference, relative to the largest analytic gradient.
func numericalErrors(m Module, x *Tensor, rng *rand.Rand) map[string]float64 {
	errors := map[string]float64{}
	y := m.Forward(x)
	r := randomTensor(rng, y.Shape...)
	ZeroGrad(m)
	dx := m.Backward(r)
	tensors := []struct {
		what        string
		value, grad *Tensor
	}{{"input", x, dx}}
	for _, p := range Parameters(m) {
		tensors = append(tensors, struct {
			what        string
			value, grad *Tensor
		}{p.Name, p.Value, p.Grad.Clone()})
	}
	for _, tt := range tensors {
		scale := 0.0
		for _, g := range tt.grad.Data {
			scale = math.Max(scale, math.Abs(g))
		}
		if scale == 0 {
			scale = 1
		}
		worst := 0.0
		for _, i := range sampleIndices(rng, len(tt.value.Data)) {
			saved := tt.value.Data[i]
			tt.value.Data[i] = saved + eps
			plus := weighted(m.Forward(x), r)
			tt.value.Data[i] = saved - eps
			minus := weighted(m.Forward(x), r)
			tt.value.Data[i] = saved
			numeric := (plus - minus) / (2 * eps)
			worst = math.Max(worst, math.Abs(numeric-tt.grad.Data[i])/scale)
		}
		errors[tt.what] = worst
	}
	return errors
}

func sampleIndices(rng *rand.Rand, n int) []int {
	if n <= checksPer {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	return rng.Perm(n)[:checksPer]
}

func TestNumericalGradients(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cases := []struct {
		name  string
		m     Module
		shape []int
	}{
		{"conv 3x3 pad 1", NewConv2d(3, 4, 3, 1, 1, true), []int{2, 3, 6, 5}},
		{"conv stride 2 dilation 2", NewConv2dFull(2, 4, [2]int{3, 2}, [2]int{2, 1}, [4]int{2, 1, 0, 1}, [2]int{2, 1}, 2, true), []int{2, 2, 9, 7}},
		{"conv depthwise no bias", NewConv2dFull(3, 6, [2]int{3, 3}, [2]int{1, 1}, [4]int{1, 1, 1, 1}, [2]int{1, 1}, 3, false), []int{1, 3, 5, 4}},
		{"max pool 2", NewMaxPool2d(2, 2, 0), []int{2, 3, 6, 7}},
		{"max pool 3/2 pad 1 ceil", &MaxPool2d{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, Dilation: [2]int{1, 2}, CeilMode: true}, []int{1, 2, 8, 9}},
		{"avg pool 2", NewAvgPool2d(2, 2, 0), []int{2, 3, 6, 7}},
		{"avg pool 3/2 pad 1 exclude pad ceil", &AvgPool2d{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true}, []int{1, 2, 8, 7}},
		{"adaptive avg pool", &AdaptiveAvgPool2d{OutH: 3, OutW: 4}, []int{2, 2, 7, 9}},
		{"relu", &ReLU{}, []int{2, 3, 4, 4}},
		{"tanh", &Tanh{}, []int{2, 3, 4, 4}},
		{"linear", NewLinear(7, 5, true), []int{3, 7}},
		{"seed-like chain", &Sequential{[]Module{NewConv2d(1, 3, 3, 1, 1, true), &ReLU{}, NewMaxPool2d(2, 2, 0),
			&Flatten{}, NewLinear(3*4*4, 4, true)}}, []int{2, 1, 8, 8}},
	}
	for _, c := range cases {
		randomizeParams(rng, c.m)
		checkNumerical(t, c.name, c.m, randomTensor(rng, c.shape...), rng)
	}
}

// A graph with a fan-out: x feeds the convolution, the sum and the concatenation, so its
// gradient is the sum of three.
func TestGraphGradientSumsOverReaders(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	g := &Graph{Input: "x"}
	g.Add("conv", NewConv2d(2, 2, 3, 1, 1, true))
	g.Add("relu", &ReLU{})
	g.Nodes = append(g.Nodes, GraphNode{Name: "sum", Merge: &Add{}, Inputs: []string{"relu", "x"}},
		GraphNode{Name: "cat", Merge: &Concat{}, Inputs: []string{"sum", "x"}})
	g.Add("pool", NewMaxPool2d(2, 2, 0))
	randomizeParams(rng, g)
	checkNumerical(t, "graph", g, randomTensor(rng, 2, 2, 6, 6), rng)
}

func TestCrossEntropyNumericalGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	logits := randomTensor(rng, 4, 6)
	labels := []int{0, 5, 2, 2}
	loss := &SoftmaxCrossEntropy{}
	loss.Forward(logits, labels)
	grad := loss.Backward()
	for i := range logits.Data {
		saved := logits.Data[i]
		logits.Data[i] = saved + eps
		plus := loss.Forward(logits, labels)
		logits.Data[i] = saved - eps
		minus := loss.Forward(logits, labels)
		logits.Data[i] = saved
		if d := math.Abs((plus-minus)/(2*eps) - grad.Data[i]); d > numTolerance {
			t.Fatalf("dL/dlogits[%d]: numerical and analytic differ by %.2e", i, d)
		}
	}
}

// Numerical checks must be able to fail: a wrong backward (here, ReLU's gradient let through
// everywhere) is caught.
type leakyBackwardReLU struct{ ReLU }

func (r *leakyBackwardReLU) Backward(g *Tensor) *Tensor { return g }

func TestNumericalCheckCatchesAWrongBackward(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	errors := numericalErrors(&leakyBackwardReLU{}, randomTensor(rng, 1, 2, 3, 3), rng)
	if errors["input"] <= numTolerance {
		t.Fatalf("a wrong backward passed the numerical check (error %.2e)", errors["input"])
	}
}
