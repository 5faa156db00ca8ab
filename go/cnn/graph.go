package cnn

import (
	"fmt"
	"strings"
)

// Graph is strided's Graph (and the Network every model builder returns): nodes evaluated in the
// order added, each applying a module to named arrays (the graph's input or earlier nodes).
//
// Backward walks the nodes in reverse; an array read by several nodes gets the SUM of the
// gradients they hand back (the multivariate chain rule).
type Graph struct {
	Name    string // for messages, e.g. "resnet_cifar20"
	Input   string
	Nodes   []GraphNode
	Outputs []string
	shape   []int
}

// GraphNode computes Module(inputs...) (a Merge when it has several inputs).
type GraphNode struct {
	Name   string
	Module Module // nil when Merge is set
	Merge  Merge
	Inputs []string
}

// Merge is a module of several inputs (Add, Concat).
type Merge interface {
	ForwardMany(xs []*Tensor) *Tensor
	BackwardMany(gradOut *Tensor) []*Tensor
	Label() string
}

func (g *Graph) Label() string {
	if g.Name != "" {
		return g.Name
	}
	return fmt.Sprintf("Graph(%s -> %s)", g.Input, strings.Join(g.Outputs, ", "))
}

// Add appends a node reading the previous node (or the input) when inputs is empty.
func (g *Graph) Add(name string, m Module, inputs ...string) *Graph {
	if len(inputs) == 0 {
		inputs = []string{g.Input}
		if len(g.Nodes) > 0 {
			inputs = []string{g.Nodes[len(g.Nodes)-1].Name}
		}
	}
	g.Nodes = append(g.Nodes, GraphNode{Name: name, Module: m, Inputs: inputs})
	return g
}

func (g *Graph) outputs() []string {
	if len(g.Outputs) > 0 {
		return g.Outputs
	}
	if len(g.Nodes) == 0 {
		return []string{g.Input}
	}
	return []string{g.Nodes[len(g.Nodes)-1].Name}
}

func (g *Graph) State() []Named {
	var state []Named
	for _, node := range g.Nodes {
		if node.Module != nil {
			state = append(state, prefixed(node.Name, node.Module.State())...)
		}
	}
	return state
}

func (g *Graph) Forward(x *Tensor) *Tensor {
	outputs := g.outputs()
	if len(outputs) != 1 {
		panic(fmt.Errorf("%s: Go runs graphs of one output, this one has %d", g.Label(), len(outputs)))
	}
	values := map[string]*Tensor{g.Input: x}
	for _, node := range g.Nodes {
		args := make([]*Tensor, len(node.Inputs))
		for i, name := range node.Inputs {
			value, ok := values[name]
			if !ok {
				panic(fmt.Errorf("%s: node %q reads %q, which is neither the input nor an earlier node",
					g.Label(), node.Name, name))
			}
			args[i] = value
		}
		if node.Merge == nil && len(args) != 1 {
			panic(fmt.Errorf("%s: node %q (%s) takes one input, got %d", g.Label(), node.Name,
				node.Module.Label(), len(args)))
		}
		if node.Merge != nil {
			values[node.Name] = node.Merge.ForwardMany(args)
		} else {
			values[node.Name] = node.Module.Forward(args[0])
		}
	}
	g.shape = x.Shape
	return values[outputs[0]]
}

func (g *Graph) Backward(gradOut *Tensor) *Tensor {
	pending := map[string]*Tensor{g.outputs()[0]: gradOut}
	accumulate := func(name string, grad *Tensor) {
		if sum, ok := pending[name]; ok {
			total := sum.Clone() // never modify a gradient another array may share
			for i, v := range grad.Data {
				total.Data[i] += v
			}
			grad = total
		}
		pending[name] = grad
	}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		node := g.Nodes[i]
		grad, ok := pending[node.Name]
		if !ok {
			continue // no output depends on this node
		}
		delete(pending, node.Name)
		if node.Merge != nil {
			for j, gradIn := range node.Merge.BackwardMany(grad) {
				accumulate(node.Inputs[j], gradIn)
			}
		} else {
			accumulate(node.Inputs[0], node.Module.Backward(grad))
		}
	}
	if dx, ok := pending[g.Input]; ok {
		return dx
	}
	return New(g.shape...)
}

// Add sums its inputs (one shape, no broadcasting): y = x_1 + ... + x_k; each dL/dx_i = dL/dy.
type Add struct{ count int }

func (a *Add) Label() string { return "Add()" }

func (a *Add) ForwardMany(xs []*Tensor) *Tensor {
	y := xs[0].Clone()
	for _, x := range xs[1:] {
		if !SameShape(x.Shape, y.Shape) {
			panic(fmt.Errorf("Add(): inputs must have the same shape, got %s and %s",
				ShapeString(y.Shape), ShapeString(x.Shape)))
		}
		for i, v := range x.Data {
			y.Data[i] += v
		}
	}
	a.count = len(xs)
	return y
}

func (a *Add) BackwardMany(gradOut *Tensor) []*Tensor {
	grads := make([]*Tensor, a.count)
	for i := range grads {
		grads[i] = gradOut
	}
	return grads
}

// Concat joins NCHW inputs along the channels (dim 1): y = [x_1, ..., x_k]; the gradient is split
// back into each input's channels.
type Concat struct{ channels []int }

func (c *Concat) Label() string { return "Concat(dim=1)" }

func (c *Concat) ForwardMany(xs []*Tensor) *Tensor {
	n, h, w := xs[0].Shape[0], xs[0].Shape[2], xs[0].Shape[3]
	total := 0
	c.channels = c.channels[:0]
	for _, x := range xs {
		checkInput(c.Label(), x, 0)
		if x.Shape[0] != n || x.Shape[2] != h || x.Shape[3] != w {
			panic(fmt.Errorf("%s: inputs must agree in every dimension but 1, got %s and %s", c.Label(),
				ShapeString(xs[0].Shape), ShapeString(x.Shape)))
		}
		c.channels = append(c.channels, x.Shape[1])
		total += x.Shape[1]
	}
	y := New(n, total, h, w)
	for b := 0; b < n; b++ {
		offset := b * total * h * w
		for _, x := range xs {
			size := x.Shape[1] * h * w
			copy(y.Data[offset:offset+size], x.Data[b*size:(b+1)*size])
			offset += size
		}
	}
	return y
}

func (c *Concat) BackwardMany(gradOut *Tensor) []*Tensor {
	n, total, h, w := gradOut.Dims4()
	grads := make([]*Tensor, len(c.channels))
	start := 0
	for i, ch := range c.channels {
		grads[i] = New(n, ch, h, w)
		for b := 0; b < n; b++ {
			copy(grads[i].Data[b*ch*h*w:(b+1)*ch*h*w], gradOut.Data[(b*total+start)*h*w:(b*total+start+ch)*h*w])
		}
		start += ch
	}
	return grads
}
