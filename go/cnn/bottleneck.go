package cnn

import "fmt"

// Bottleneck is ResNet-50's block (torchvision's Bottleneck, stride on the 3x3), inference only:
//
//	h = relu(bn1(conv1(x)))                   conv1: 1x1, in -> mid
//	h = relu(bn2(conv2(h)))                   conv2: 3x3, stride, padding 1
//	y = relu(bn3(conv3(h)) + shortcut(x))     conv3: 1x1, mid -> mid * expansion
//
// with the shortcut x itself or a projection (conv1x1(stride) + BN) where the shape changes.
type Bottleneck struct {
	In, Mid, Out, Stride int
	Conv1, Conv2, Conv3  *Conv2d
	BN1, BN2, BN3        *BatchNorm2d
	Downsample           *Sequential
}

// NewBottleneck builds the block as strided's Bottleneck(in, mid, stride, expansion) does.
func NewBottleneck(in, mid, stride, expansion int) *Bottleneck {
	out := mid * expansion
	return &Bottleneck{In: in, Mid: mid, Out: out, Stride: stride,
		Conv1: NewConv2d(in, mid, 1, 1, 0, false), BN1: NewBatchNorm2d(mid, 1e-5, true),
		Conv2: NewConv2d(mid, mid, 3, stride, 1, false), BN2: NewBatchNorm2d(mid, 1e-5, true),
		Conv3: NewConv2d(mid, out, 1, 1, 0, false), BN3: NewBatchNorm2d(out, 1e-5, true),
		Downsample: projection(in, out, stride)}
}

func (b *Bottleneck) Label() string {
	return fmt.Sprintf("Bottleneck(%d -> %d, stride=%d)", b.In, b.Out, b.Stride)
}

func (b *Bottleneck) State() []Named {
	var state []Named
	for _, part := range []struct {
		name string
		m    Module
	}{{"conv1", b.Conv1}, {"bn1", b.BN1}, {"conv2", b.Conv2}, {"bn2", b.BN2}, {"conv3", b.Conv3}, {"bn3", b.BN3}} {
		state = append(state, prefixed(part.name, part.m.State())...)
	}
	if b.Downsample != nil {
		state = append(state, prefixed("downsample", b.Downsample.State())...)
	}
	return state
}

func (b *Bottleneck) Forward(x *Tensor) *Tensor {
	checkInput(b.Label(), x, b.In)
	h := reluInPlace(b.BN1.Forward(b.Conv1.Forward(x)))
	h = reluInPlace(b.BN2.Forward(b.Conv2.Forward(h)))
	return reluInPlace(addInPlace(b.BN3.Forward(b.Conv3.Forward(h)), shortcut(b.Downsample, x)))
}

func (b *Bottleneck) Backward(*Tensor) *Tensor { return inferenceOnly(b.Label()) }
