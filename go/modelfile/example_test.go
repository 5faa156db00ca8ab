package modelfile_test

import (
	"fmt"

	"strided/go/cnn"
	"strided/go/modelfile"
)

// Classify one image with a model file written by `strided train` (what strided-go predict does).
func ExampleLoad() {
	model, err := modelfile.Load("runs/latest/model.safetensors")
	if err != nil {
		fmt.Println(err)
		return
	}
	pre, err := model.Preprocess() // mode, size, mean and std, as recorded in the file
	if err != nil {
		fmt.Println(err)
		return
	}
	x, err := pre.LoadFile("digit.png") // (C, H, W)
	if err != nil {
		fmt.Println(err)
		return
	}
	probs := cnn.Softmax(model.Net.Forward(x.Reshape(append([]int{1}, x.Shape...)...)))
	fmt.Println(model.Meta.ClassNames, probs.Data)
}
