package cnn_test

import (
	"fmt"

	"strided/go/cnn"
)

// The course's network, one SGD step (docs/go.md shows it beside the same lines of strided).
func Example() {
	model := &cnn.Sequential{Modules: []cnn.Module{
		cnn.NewConv2d(1, 32, 3, 1, 1, true), &cnn.ReLU{}, cnn.NewMaxPool2d(2, 2, 0),
		cnn.NewConv2d(32, 64, 3, 1, 1, true), &cnn.ReLU{}, cnn.NewMaxPool2d(2, 2, 0),
		&cnn.AdaptiveAvgPool2d{OutH: 7, OutW: 7}, &cnn.Flatten{}, cnn.NewLinear(64*7*7, 10, true),
	}}
	x := cnn.New(8, 1, 28, 28) // a batch of 8 grey 28x28 images
	labels := []int{0, 1, 2, 3, 4, 5, 6, 7}
	loss := &cnn.SoftmaxCrossEntropy{}
	optimizer := cnn.NewSGD(model, 0.05, 0.9, 0)

	logits := model.Forward(x)
	value := loss.Forward(logits, labels)
	cnn.ZeroGrad(model)
	model.Backward(loss.Backward())
	optimizer.Step()
	fmt.Printf("logits %v, loss %.4f\n", logits.Shape, value)
	// Output: logits [8 10], loss 2.3026
}
