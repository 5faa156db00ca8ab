package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	"strided/go/cnn"
	"strided/go/modelfile"
)

// train is the course's training loop on the MNIST sample inside the Python package (4,000
// training digits, the 1,000 test digits being the last 100 of each class, as strided's
// MNISTSample splits them): for each mini-batch, forward, softmax cross-entropy, backward, SGD.
func train(args []string) (err error) {
	defer recovered(&err)
	flags := flag.NewFlagSet("strided-go train", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	epochs := flags.Int("epochs", 3, "passes over the training digits")
	batch := flags.Int("batch-size", 64, "digits per SGD step")
	lr := flags.Float64("lr", 0.05, "learning rate")
	momentum := flags.Float64("momentum", 0.9, "SGD momentum")
	decay := flags.Float64("weight-decay", 0, "L2 weight decay")
	seed := flags.Int64("seed", 0, "seed of the initial weights and the shuffling")
	data := flags.String("data", "", "folder of the sample's IDX files (default: strided/data/sample)")
	limit := flags.Int("limit", 0, "train on the first N shuffled digits only (0: all; for quick checks)")
	out := flags.String("out", "", "write the trained model to this strided model file (.safetensors)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *epochs < 1 || *batch < 1 {
		return fmt.Errorf("--epochs and --batch-size must be at least 1")
	}
	trainX, trainY, testX, testY, err := loadSample(*data)
	if err != nil {
		return err
	}
	mean, std := meanStd(trainX)
	fmt.Printf("MNIST sample: %d training, %d test digits; mean %.4f, std %.4f\n", len(trainY), len(testY), mean, std)

	rng := rand.New(rand.NewSource(*seed))
	model := modelfile.SeedCNN(10, 1)
	initLikeTorch(model, rng)
	optimizer := cnn.NewSGD(model, *lr, *momentum, *decay)
	loss := &cnn.SoftmaxCrossEntropy{}
	for epoch := 1; epoch <= *epochs; epoch++ {
		started, cpu := time.Now(), cpuSeconds()
		order := rng.Perm(len(trainY))
		if *limit > 0 && *limit < len(order) {
			order = order[:*limit]
		}
		total, correct := 0.0, 0
		for start := 0; start < len(order); start += *batch {
			idx := order[start:cnn.MinInt(start+*batch, len(order))]
			x, y := makeBatch(trainX, trainY, idx, mean, std)
			logits := model.Forward(x)
			total += loss.Forward(logits, y) * float64(len(idx))
			correct += countCorrect(logits, y)
			cnn.ZeroGrad(model)
			model.Backward(loss.Backward())
			optimizer.Step()
		}
		fmt.Printf("epoch %d/%d: loss %.4f, accuracy %.4f, %.1f s (%.1f s CPU)\n", epoch, *epochs,
			total/float64(len(order)), float64(correct)/float64(len(order)), time.Since(started).Seconds(),
			cpuSeconds()-cpu)
	}
	all := make([]int, len(testY))
	for i := range all {
		all[i] = i
	}
	correct := 0
	for start := 0; start < len(all); start += 250 {
		idx := all[start:cnn.MinInt(start+250, len(all))]
		x, y := makeBatch(testX, testY, idx, mean, std)
		correct += countCorrect(model.Forward(x), y)
	}
	fmt.Printf("test accuracy %.4f (%d of %d)\n", float64(correct)/float64(len(testY)), correct, len(testY))
	if *out == "" {
		return nil
	}
	classes := make([]string, 10)
	for i := range classes {
		classes[i] = fmt.Sprint(i)
	}
	spec := map[string]interface{}{"builder": "seed_cnn", "kwargs": map[string]int{"num_classes": 10, "in_channels": 1}}
	meta := modelfile.Meta{Name: "seed_cnn-sample-go", ClassNames: classes, InputShape: []int{1, 28, 28},
		Preprocessing: &modelfile.Preprocessing{Mode: "L", Size: []int{28, 28}, Mean: []float64{mean}, Std: []float64{std}}}
	if err := modelfile.Save(*out, model, spec, meta); err != nil {
		return err
	}
	fmt.Printf("saved %s (strided predict and strided serve read it)\n", *out)
	return nil
}

// initLikeTorch draws every weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's
// default for Conv2d and Linear (kaiming_uniform_ with a = sqrt(5) gives that bound).
func initLikeTorch(m cnn.Module, rng *rand.Rand) {
	fanIn := 0
	for _, p := range cnn.Parameters(m) {
		if len(p.Value.Shape) > 1 { // a weight: its fan-in is every dimension but the first
			fanIn = cnn.Numel(p.Value.Shape[1:])
		}
		bound := 1 / math.Sqrt(float64(fanIn)) // a bias follows its weight and shares its fan-in
		for i := range p.Value.Data {
			p.Value.Data[i] = (2*rng.Float64() - 1) * bound
		}
	}
}

func loadSample(dir string) (trainX [][]uint8, trainY []int, testX [][]uint8, testY []int, err error) {
	candidates := []string{dir}
	if dir == "" {
		candidates = []string{"strided/data/sample", "../strided/data/sample", "../../strided/data/sample",
			"../../../strided/data/sample"}
	}
	for _, c := range candidates {
		if _, e := os.Stat(filepath.Join(c, "mnist-5k-images-idx3-ubyte.gz")); e == nil {
			dir = c
			break
		}
	}
	images, dims, err := readIDX(filepath.Join(dir, "mnist-5k-images-idx3-ubyte.gz"), 0x803)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%v (pass --data with the folder of strided's sample: "+
			"python -c \"import strided.data.sample as s; print(s.SAMPLE_DIR)\")", err)
	}
	labels, _, err := readIDX(filepath.Join(dir, "mnist-5k-labels-idx1-ubyte.gz"), 0x801)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if len(dims) != 3 || dims[0] != len(labels) || dims[1] != 28 || dims[2] != 28 {
		return nil, nil, nil, nil, fmt.Errorf("%s: expected (N, 28, 28) images for %d labels, got %v", dir, len(labels), dims)
	}
	// The test split: the last 100 digits of each class in file order.
	seen := map[int]int{}
	counts := map[int]int{}
	for _, l := range labels {
		counts[int(l)]++
	}
	for i, l := range labels {
		digit := int(l)
		image := images[i*784 : (i+1)*784]
		if counts[digit]-seen[digit] <= 100 {
			testX, testY = append(testX, image), append(testY, digit)
		} else {
			trainX, trainY = append(trainX, image), append(trainY, digit)
		}
		seen[digit]++
	}
	return trainX, trainY, testX, testY, nil
}

// meanStd of the training pixels scaled to [0, 1] (the normalisation strided train records).
func meanStd(images [][]uint8) (float64, float64) {
	sum, squares, n := 0.0, 0.0, 0.0
	for _, image := range images {
		for _, v := range image {
			x := float64(v) / 255
			sum, squares, n = sum+x, squares+x*x, n+1
		}
	}
	mean := sum / n
	return mean, math.Sqrt(squares/n - mean*mean)
}

func makeBatch(images [][]uint8, labels []int, idx []int, mean, std float64) (*cnn.Tensor, []int) {
	x := cnn.New(len(idx), 1, 28, 28)
	y := make([]int, len(idx))
	for b, i := range idx {
		for j, v := range images[i] {
			x.Data[b*784+j] = (float64(v)/255 - mean) / std
		}
		y[b] = labels[i]
	}
	return x, y
}

func countCorrect(logits *cnn.Tensor, labels []int) int {
	k, correct := logits.Shape[1], 0
	for b, y := range labels {
		row := logits.Data[b*k : (b+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == y {
			correct++
		}
	}
	return correct
}
