package cnn

import "fmt"

// ResidualBlock is ResNet's basic block (torchvision's BasicBlock), inference only:
//
//	y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
//
// conv1 is 3x3 with the block's stride, conv2 3x3, both padding 1 and without bias. The shortcut
// is x itself, or Downsample = conv1x1(stride) + BN (a projection) where the shape changes.
type ResidualBlock struct {
	In, Out, Stride int
	Conv1, Conv2    *Conv2d
	BN1, BN2        *BatchNorm2d
	Downsample      *Sequential // nil: identity shortcut
}

// NewResidualBlock builds the block as strided's ResidualBlock(in, out, stride) does.
func NewResidualBlock(in, out, stride int) *ResidualBlock {
	return &ResidualBlock{In: in, Out: out, Stride: stride,
		Conv1: NewConv2d(in, out, 3, stride, 1, false), BN1: NewBatchNorm2d(out, 1e-5, true),
		Conv2: NewConv2d(out, out, 3, 1, 1, false), BN2: NewBatchNorm2d(out, 1e-5, true),
		Downsample: projection(in, out, stride)}
}

// projection is the shortcut where the stride or the channel count changes, else nil (identity).
func projection(in, out, stride int) *Sequential {
	if stride == 1 && in == out {
		return nil
	}
	return &Sequential{[]Module{NewConv2d(in, out, 1, stride, 0, false), NewBatchNorm2d(out, 1e-5, true)}}
}

func (r *ResidualBlock) Label() string {
	return fmt.Sprintf("ResidualBlock(%d -> %d, stride=%d)", r.In, r.Out, r.Stride)
}

func (r *ResidualBlock) State() []Named {
	state := append(prefixed("conv1", r.Conv1.State()), prefixed("bn1", r.BN1.State())...)
	state = append(state, prefixed("conv2", r.Conv2.State())...)
	state = append(state, prefixed("bn2", r.BN2.State())...)
	if r.Downsample != nil {
		state = append(state, prefixed("downsample", r.Downsample.State())...)
	}
	return state
}

func (r *ResidualBlock) Forward(x *Tensor) *Tensor {
	checkInput(r.Label(), x, r.In)
	main := r.BN2.Forward(r.Conv2.Forward(reluInPlace(r.BN1.Forward(r.Conv1.Forward(x)))))
	return reluInPlace(addInPlace(main, shortcut(r.Downsample, x)))
}

func (r *ResidualBlock) Backward(*Tensor) *Tensor { return inferenceOnly(r.Label()) }

func shortcut(downsample *Sequential, x *Tensor) *Tensor {
	if downsample == nil {
		return x
	}
	return downsample.Forward(x)
}

// reluInPlace is max(0, x) written over x (for arrays only the caller holds).
func reluInPlace(x *Tensor) *Tensor {
	for i, v := range x.Data {
		if v < 0 {
			x.Data[i] = 0
		}
	}
	return x
}

// addInPlace is a += b (same shapes) written over a.
func addInPlace(a, b *Tensor) *Tensor {
	if !SameShape(a.Shape, b.Shape) {
		panic(fmt.Errorf("residual sum: branch shapes %s and %s differ", ShapeString(a.Shape), ShapeString(b.Shape)))
	}
	for i, v := range b.Data {
		a.Data[i] += v
	}
	return a
}
