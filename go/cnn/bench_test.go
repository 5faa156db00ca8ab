package cnn

import (
	"math/rand"
	"testing"
)

// go test -bench . ./cnn: the course network's heaviest layer (conv2 of seed_cnn) on a batch of 64.
func BenchmarkSeedConv2ForwardBackward(b *testing.B) {
	rng := rand.New(rand.NewSource(0))
	conv := NewConv2d(32, 64, 3, 1, 1, true)
	randomizeParams(rng, conv)
	x := randomTensor(rng, 64, 32, 14, 14)
	g := randomTensor(rng, 64, 64, 14, 14)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		conv.Forward(x)
		conv.Backward(g)
	}
}
