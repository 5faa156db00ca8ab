package cnn

import (
	"fmt"
	"math"
)

// SoftmaxCrossEntropy is the loss of a classifier on logits z (N, K) and class labels y:
//
//	L = (1/N) * sum_n [ log(sum_k exp(z[n, k])) - z[n, y_n] ]      (strided's / PyTorch's CrossEntropyLoss)
//
// computed with the largest logit subtracted first, so exp cannot overflow.
// Backward: dL/dz[n, k] = (softmax(z_n)[k] - [k == y_n]) / N.
type SoftmaxCrossEntropy struct {
	probs  *Tensor
	labels []int
}

// Forward returns the mean loss over the batch.
func (s *SoftmaxCrossEntropy) Forward(logits *Tensor, labels []int) float64 {
	if len(logits.Shape) != 2 || logits.Shape[0] != len(labels) {
		panic(fmt.Errorf("SoftmaxCrossEntropy: expected logits of shape (%d, K) for %d labels, got %s",
			len(labels), len(labels), ShapeString(logits.Shape)))
	}
	n, k := logits.Shape[0], logits.Shape[1]
	s.probs, s.labels = Softmax(logits), labels
	loss := 0.0
	for b, y := range labels {
		if y < 0 || y >= k {
			panic(fmt.Errorf("SoftmaxCrossEntropy: label %d is outside the %d classes", y, k))
		}
		loss -= math.Log(s.probs.Data[b*k+y])
	}
	return loss / float64(n)
}

// Backward returns dL/dlogits of the last Forward.
func (s *SoftmaxCrossEntropy) Backward() *Tensor {
	n, k := s.probs.Shape[0], s.probs.Shape[1]
	grad := s.probs.Clone()
	for b, y := range s.labels {
		grad.Data[b*k+y] -= 1
	}
	for i := range grad.Data {
		grad.Data[i] /= float64(n)
	}
	return grad
}

// Softmax of each row of (N, K) logits: p[n, k] = exp(z[n, k] - m_n) / sum_j exp(z[n, j] - m_n),
// m_n = max_j z[n, j] (the shift changes nothing but keeps exp finite).
func Softmax(logits *Tensor) *Tensor {
	n, k := logits.Shape[0], logits.Shape[1]
	p := New(n, k)
	for b := 0; b < n; b++ {
		row, out := logits.Data[b*k:(b+1)*k], p.Data[b*k:(b+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			if v > m {
				m = v
			}
		}
		sum := 0.0
		for j, v := range row {
			out[j] = math.Exp(v - m)
			sum += out[j]
		}
		for j := range out {
			out[j] /= sum
		}
	}
	return p
}
