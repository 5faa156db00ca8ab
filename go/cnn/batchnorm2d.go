package cnn

import (
	"fmt"
	"math"
)

// BatchNorm2d in evaluation mode (inference only): each channel is normalised with the running
// statistics gathered in training, then scaled and shifted:
//
//	y[n, c, i, j] = (x[n, c, i, j] - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c]
//
// Training-mode batch statistics are not implemented in Go (strided trains these networks).
type BatchNorm2d struct {
	Channels                              int
	Eps                                   float64
	Weight, Bias, RunningMean, RunningVar *Tensor // Weight and Bias nil when affine=False
	NumBatchesTracked                     *Tensor // kept only so that state names match strided's
}

// NewBatchNorm2d returns an eval-mode batch norm with strided's defaults (eps 1e-5, affine).
func NewBatchNorm2d(channels int, eps float64, affine bool) *BatchNorm2d {
	b := &BatchNorm2d{Channels: channels, Eps: eps, RunningMean: New(channels), RunningVar: New(channels),
		NumBatchesTracked: New()}
	for i := range b.RunningVar.Data {
		b.RunningVar.Data[i] = 1
	}
	if affine {
		b.Weight, b.Bias = New(channels), New(channels)
		for i := range b.Weight.Data {
			b.Weight.Data[i] = 1
		}
	}
	return b
}

func (b *BatchNorm2d) Label() string { return fmt.Sprintf("BatchNorm2d(%d)", b.Channels) }

func (b *BatchNorm2d) State() []Named {
	var state []Named
	if b.Weight != nil {
		state = append(state, Named{"weight", b.Weight, nil}, Named{"bias", b.Bias, nil})
	}
	return append(state, Named{"running_mean", b.RunningMean, nil}, Named{"running_var", b.RunningVar, nil},
		Named{"num_batches_tracked", b.NumBatchesTracked, nil})
}

func (b *BatchNorm2d) Forward(x *Tensor) *Tensor {
	checkInput(b.Label(), x, b.Channels)
	n, c, h, w := x.Dims4()
	y := New(x.Shape...)
	for ch := 0; ch < c; ch++ {
		scale := 1 / math.Sqrt(b.RunningVar.Data[ch]+b.Eps)
		shift := -b.RunningMean.Data[ch] * scale
		if b.Weight != nil {
			scale, shift = scale*b.Weight.Data[ch], shift*b.Weight.Data[ch]+b.Bias.Data[ch]
		}
		for s := 0; s < n; s++ {
			off := (s*c + ch) * h * w
			for i, v := range x.Data[off : off+h*w] {
				y.Data[off+i] = v*scale + shift
			}
		}
	}
	return y
}

func (b *BatchNorm2d) Backward(*Tensor) *Tensor { return inferenceOnly(b.Label()) }
