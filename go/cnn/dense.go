package cnn

import "fmt"

// DenseNet-BC's parts (torchvision's layout and names), inference only.
//
// DenseLayer: y = conv2(relu(norm2(conv1(relu(norm1(x)))))), conv1 1x1 in -> bn_size*growth,
// conv2 3x3 (padding 1) -> growth: the growth_rate NEW feature maps.
//
// DenseBlock: x_0 = x, x_l = DenseLayer_l(cat(x_0, ..., x_(l-1))), y = cat(x_0, ..., x_L):
// every layer reads all the maps before it; out channels = in + L*growth.
//
// Transition: y = avgpool2x2(conv1x1(relu(norm(x)))), halving the map size between blocks.

// NewDenseLayer builds strided's DenseLayer(in, growth, bnSize): a chain named norm1, relu1,
// conv1, norm2, relu2, conv2.
func NewDenseLayer(in, growth, bnSize int) *Chain {
	return &Chain{Name: fmt.Sprintf("DenseLayer(%d -> +%d)", in, growth), Children: []NamedModule{
		{"norm1", NewBatchNorm2d(in, 1e-5, true)}, {"relu1", &ReLU{}},
		{"conv1", NewConv2d(in, bnSize*growth, 1, 1, 0, false)},
		{"norm2", NewBatchNorm2d(bnSize*growth, 1e-5, true)}, {"relu2", &ReLU{}},
		{"conv2", NewConv2d(bnSize*growth, growth, 3, 1, 1, false)},
	}}
}

// NewTransition builds strided's Transition(in, out): norm, relu, conv (1x1), pool (2x2 average).
func NewTransition(in, out int) *Chain {
	return &Chain{Name: fmt.Sprintf("Transition(%d -> %d)", in, out), Children: []NamedModule{
		{"norm", NewBatchNorm2d(in, 1e-5, true)}, {"relu", &ReLU{}},
		{"conv", NewConv2d(in, out, 1, 1, 0, false)}, {"pool", NewAvgPool2d(2, 2, 0)},
	}}
}

// DenseBlock concatenates each layer's new maps to everything before them.
type DenseBlock struct {
	In, Growth, Out int
	Layers          []*Chain // denselayer1, denselayer2, ...
}

// NewDenseBlock builds strided's DenseBlock(in, growth, numLayers, bnSize).
func NewDenseBlock(in, growth, numLayers, bnSize int) *DenseBlock {
	d := &DenseBlock{In: in, Growth: growth, Out: in + numLayers*growth}
	for i := 0; i < numLayers; i++ {
		d.Layers = append(d.Layers, NewDenseLayer(in+i*growth, growth, bnSize))
	}
	return d
}

func (d *DenseBlock) Label() string { return fmt.Sprintf("DenseBlock(%d -> %d)", d.In, d.Out) }

func (d *DenseBlock) State() []Named {
	var state []Named
	for i, layer := range d.Layers {
		state = append(state, prefixed(fmt.Sprintf("denselayer%d", i+1), layer.State())...)
	}
	return state
}

func (d *DenseBlock) Forward(x *Tensor) *Tensor {
	checkInput(d.Label(), x, d.In)
	features := x
	for _, layer := range d.Layers {
		features = (&Concat{}).ForwardMany([]*Tensor{features, layer.Forward(features)})
	}
	return features
}

func (d *DenseBlock) Backward(*Tensor) *Tensor { return inferenceOnly(d.Label()) }

// NamedModule is a child of a Chain.
type NamedModule struct {
	Name   string
	Module Module
}

// Chain runs named children in order and their backwards in reverse, as strided's DenseLayer and
// Transition do; the names prefix their state ("norm1.weight", ...).
type Chain struct {
	Name     string
	Children []NamedModule
}

func (c *Chain) Label() string { return c.Name }

func (c *Chain) State() []Named {
	var state []Named
	for _, child := range c.Children {
		state = append(state, prefixed(child.Name, child.Module.State())...)
	}
	return state
}

func (c *Chain) Forward(x *Tensor) *Tensor {
	for _, child := range c.Children {
		x = child.Module.Forward(x)
	}
	return x
}

func (c *Chain) Backward(gradOut *Tensor) *Tensor {
	for i := len(c.Children) - 1; i >= 0; i-- {
		gradOut = c.Children[i].Module.Backward(gradOut)
	}
	return gradOut
}
