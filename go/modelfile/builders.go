package modelfile

import (
	"fmt"

	"strided/go/cnn"
)

// The Go twins of strided's model builders (strided/models): the same layers, in the same order,
// under the same names, so that a model file's weights land key for key.

func build(name string, a arguments) (cnn.Module, error) {
	classes, in := a.int(-1, "num_classes", 10), a.int(-1, "in_channels", 1)
	var m cnn.Module
	switch name {
	case "seed_cnn":
		m = seedCNN(classes, in)
	case "lenet5":
		m = lenet5(classes, in)
	case "resnet", "resnet18", "resnet34", "resnet50":
		depth := map[string]int{"resnet18": 18, "resnet34": 34, "resnet50": 50}[name]
		if name == "resnet" {
			depth = a.int(-1, "depth", 18)
		}
		m = resnet(depth, a.int(-1, "num_classes", 1000), a.int(-1, "in_channels", 3))
	case "resnet_cifar", "resnet_cifar20", "resnet_cifar32", "resnet_cifar44", "resnet_cifar56":
		depth := map[string]int{"resnet_cifar20": 20, "resnet_cifar32": 32, "resnet_cifar44": 44, "resnet_cifar56": 56}[name]
		if name == "resnet_cifar" {
			depth = a.int(-1, "depth", 20)
		}
		m = resnetCIFAR(depth, classes, a.int(-1, "in_channels", 3))
	case "densenet", "densenet121":
		blocks, growth, init, bnSize := []int{6, 12, 24, 16}, 32, 64, 4
		if name == "densenet" {
			blocks, growth = a.ints(-1, "block_config", blocks), a.int(-1, "growth_rate", 32)
			init, bnSize = a.int(-1, "num_init_features", 64), a.int(-1, "bn_size", 4)
		}
		m = densenet(name, blocks, growth, init, a.int(-1, "num_classes", 1000), a.int(-1, "in_channels", 3), bnSize, false)
	case "densenet_cifar":
		growth := a.int(-1, "growth_rate", 12)
		m = densenet(name, a.ints(-1, "block_config", []int{6, 6, 6}), growth, 2*growth, classes,
			a.int(-1, "in_channels", 3), 4, true)
	default:
		return nil, fmt.Errorf("architecture spec names the model builder %q, which Go does not implement", name)
	}
	return m, nil
}

func (a *arguments) ints(i int, name string, def []int) []int {
	items, ok := a.get(i, name).([]interface{})
	if !ok {
		return def
	}
	sub := arguments{args: items, who: a.who}
	out := make([]int, len(items))
	for j := range items {
		out[j] = sub.int(j, name, required)
	}
	return out
}

// seedCNN is the course's network: conv 3x3 (in -> 32, padding 1), ReLU, max pool 2, conv 3x3
// (32 -> 64, padding 1), ReLU, max pool 2, adaptive average pooling to 7x7, flatten, linear
// (3136 -> classes). Every layer has a backward: `strided-go train` trains it.
func seedCNN(classes, in int) *cnn.Graph {
	g := &cnn.Graph{Name: "seed_cnn", Input: "x"}
	g.Add("conv1", cnn.NewConv2d(in, 32, 3, 1, 1, true))
	g.Add("relu1", &cnn.ReLU{})
	g.Add("pool1", cnn.NewMaxPool2d(2, 2, 0))
	g.Add("conv2", cnn.NewConv2d(32, 64, 3, 1, 1, true))
	g.Add("relu2", &cnn.ReLU{})
	g.Add("pool2", cnn.NewMaxPool2d(2, 2, 0))
	g.Add("avgpool", &cnn.AdaptiveAvgPool2d{OutH: 7, OutW: 7})
	g.Add("flatten", &cnn.Flatten{})
	g.Add("fc", cnn.NewLinear(64*7*7, classes, true))
	return g
}

// SeedCNN is the course's network with zero weights (see seedCNN).
func SeedCNN(classes, in int) *cnn.Graph { return seedCNN(classes, in) }

func lenet5(classes, in int) *cnn.Graph {
	g := &cnn.Graph{Name: "lenet5", Input: "x"}
	g.Add("conv1", cnn.NewConv2d(in, 6, 5, 1, 2, true)).Add("tanh1", &cnn.Tanh{}).Add("pool1", cnn.NewAvgPool2d(2, 2, 0))
	g.Add("conv2", cnn.NewConv2d(6, 16, 5, 1, 0, true)).Add("tanh2", &cnn.Tanh{}).Add("pool2", cnn.NewAvgPool2d(2, 2, 0))
	g.Add("avgpool", &cnn.AdaptiveAvgPool2d{OutH: 5, OutW: 5}).Add("flatten", &cnn.Flatten{})
	g.Add("fc1", cnn.NewLinear(400, 120, true)).Add("tanh3", &cnn.Tanh{})
	g.Add("fc2", cnn.NewLinear(120, 84, true)).Add("tanh4", &cnn.Tanh{})
	return g.Add("fc3", cnn.NewLinear(84, classes, true))
}

// stages adds layer1, layer2, ...: the first block of every stage after the first has stride 2.
func stages(g *cnn.Graph, bottleneck bool, counts, widths []int, channels int) int {
	for s, width := range widths {
		seq := &cnn.Sequential{}
		for i := 0; i < counts[s]; i++ {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			if bottleneck {
				seq.Modules = append(seq.Modules, cnn.NewBottleneck(channels, width, stride, 4))
				channels = width * 4
			} else {
				seq.Modules = append(seq.Modules, cnn.NewResidualBlock(channels, width, stride))
				channels = width
			}
		}
		g.Add(fmt.Sprintf("layer%d", s+1), seq)
	}
	return channels
}

func head(g *cnn.Graph, channels, classes int, fc string) *cnn.Graph {
	g.Add("avgpool", &cnn.AdaptiveAvgPool2d{OutH: 1, OutW: 1}).Add("flatten", &cnn.Flatten{})
	return g.Add(fc, cnn.NewLinear(channels, classes, true))
}

func resnet(depth, classes, in int) *cnn.Graph {
	counts := map[int][]int{18: {2, 2, 2, 2}, 34: {3, 4, 6, 3}, 50: {3, 4, 6, 3}}[depth]
	if counts == nil {
		panic(fmt.Errorf("resnet: depth must be one of [18, 34, 50], got %d", depth))
	}
	g := &cnn.Graph{Name: fmt.Sprintf("resnet%d", depth), Input: "x"}
	g.Add("conv1", cnn.NewConv2d(in, 64, 7, 2, 3, false)).Add("bn1", cnn.NewBatchNorm2d(64, 1e-5, true))
	g.Add("relu", &cnn.ReLU{}).Add("maxpool", cnn.NewMaxPool2d(3, 2, 1))
	channels := stages(g, depth == 50, counts, []int{64, 128, 256, 512}, 64)
	return head(g, channels, classes, "fc")
}

func resnetCIFAR(depth, classes, in int) *cnn.Graph {
	if depth < 8 || (depth-2)%6 != 0 {
		panic(fmt.Errorf("resnet_cifar: depth must be 6n + 2 (20, 32, 44, 56, 110 ...), got %d", depth))
	}
	n := (depth - 2) / 6
	g := &cnn.Graph{Name: fmt.Sprintf("resnet_cifar%d", depth), Input: "x"}
	g.Add("conv1", cnn.NewConv2d(in, 16, 3, 1, 1, false)).Add("bn1", cnn.NewBatchNorm2d(16, 1e-5, true))
	g.Add("relu", &cnn.ReLU{})
	channels := stages(g, false, []int{n, n, n}, []int{16, 32, 64}, 16)
	return head(g, channels, classes, "fc")
}

func densenet(name string, blocks []int, growth, init, classes, in, bnSize int, smallInputs bool) *cnn.Graph {
	features := &cnn.Graph{Input: "x"}
	if smallInputs { // the paper's CIFAR stem: one 3x3 convolution, no pooling
		features.Add("conv0", cnn.NewConv2d(in, init, 3, 1, 1, false))
	} else {
		features.Add("conv0", cnn.NewConv2d(in, init, 7, 2, 3, false)).Add("norm0", cnn.NewBatchNorm2d(init, 1e-5, true))
		features.Add("relu0", &cnn.ReLU{}).Add("pool0", cnn.NewMaxPool2d(3, 2, 1))
	}
	channels := init
	for i, layers := range blocks {
		block := cnn.NewDenseBlock(channels, growth, layers, bnSize)
		features.Add(fmt.Sprintf("denseblock%d", i+1), block)
		channels = block.Out
		if i < len(blocks)-1 {
			features.Add(fmt.Sprintf("transition%d", i+1), cnn.NewTransition(channels, channels/2))
			channels /= 2
		}
	}
	features.Add("norm5", cnn.NewBatchNorm2d(channels, 1e-5, true))
	g := &cnn.Graph{Name: name, Input: "x"}
	g.Add("features", features).Add("relu", &cnn.ReLU{})
	return head(g, channels, classes, "classifier")
}
