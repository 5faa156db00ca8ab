package modelfile

import (
	"fmt"

	"strided/go/cnn"
)

// An architecture spec (strided/io/spec.py) is JSON of three kinds:
//
//	{"builder": "resnet_cifar", "kwargs": {"depth": 20, ...}}        a model builder and its arguments
//	{"class": "Sequential", "config": {"modules": [...]}}             a container and its config
//	{"class": "Conv2d", "args": [1, 32, 3], "kwargs": {"padding": 1}} a layer and its constructor arguments
//
// with child modules written as {"__module__": spec}. FromSpec builds the Go module for any of
// them; anything Go does not implement is refused with an error naming it.

// FromSpec builds the module a decoded spec describes (weights still zero: load them after).
func FromSpec(spec interface{}) (m cnn.Module, err error) {
	defer func() { // the layers' constructors panic on impossible sizes: turn that into an error
		switch r := recover().(type) {
		case nil:
		case specError:
			m, err = nil, r
		default:
			m, err = nil, fmt.Errorf("architecture spec: %v", r)
		}
	}()
	return fromSpec(spec)
}

func fromSpec(spec interface{}) (cnn.Module, error) {
	obj, ok := spec.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("architecture spec: expected an object, got %T", spec)
	}
	if name, ok := obj["builder"].(string); ok {
		kwargs, _ := obj["kwargs"].(map[string]interface{})
		return build(name, arguments{kwargs: kwargs, who: name})
	}
	name, _ := obj["class"].(string)
	if config, ok := obj["config"].(map[string]interface{}); ok {
		return fromConfig(name, config)
	}
	args, _ := obj["args"].([]interface{})
	kwargs, _ := obj["kwargs"].(map[string]interface{})
	return layer(name, arguments{args: args, kwargs: kwargs, who: name})
}

// fromConfig builds the containers: Sequential and Graph / Network.
func fromConfig(class string, config map[string]interface{}) (cnn.Module, error) {
	switch class {
	case "Sequential":
		seq := &cnn.Sequential{}
		modules, _ := config["modules"].([]interface{})
		for _, child := range modules {
			m, err := childModule(child)
			if err != nil {
				return nil, err
			}
			seq.Modules = append(seq.Modules, m)
		}
		return seq, nil
	case "Graph", "Network":
		inputs := stringList(config["inputs"])
		outputs := stringList(config["outputs"])
		if len(inputs) != 1 || len(outputs) != 1 {
			return nil, fmt.Errorf("architecture spec: Go runs graphs of one input and one output, got inputs %v "+
				"and outputs %v", inputs, outputs)
		}
		g := &cnn.Graph{Input: inputs[0], Outputs: outputs}
		if name, ok := config["name"].(string); ok {
			g.Name = name
		}
		nodes, _ := config["nodes"].([]interface{})
		for _, raw := range nodes {
			node, _ := raw.(map[string]interface{})
			name, _ := node["name"].(string)
			wrapped, _ := node["module"].(map[string]interface{})
			inner, _ := wrapped["__module__"].(map[string]interface{})
			class, _ := inner["class"].(string)
			gn := cnn.GraphNode{Name: name, Inputs: stringList(node["inputs"])}
			switch class {
			case "Add":
				gn.Merge = &cnn.Add{}
			case "Concat":
				a := arguments{args: list(inner["args"]), kwargs: object(inner["kwargs"]), who: "Concat"}
				if dim := a.int(0, "dim", 1); dim != 1 && dim != -3 {
					return nil, fmt.Errorf("architecture spec: Go's Concat joins channels (dim 1), got dim %d", dim)
				}
				gn.Merge = &cnn.Concat{}
			default:
				m, err := childModule(node["module"])
				if err != nil {
					return nil, err
				}
				if len(gn.Inputs) != 1 {
					return nil, fmt.Errorf("architecture spec: node %q: %s takes one input, got %v", name, class, gn.Inputs)
				}
				gn.Module = m
			}
			g.Nodes = append(g.Nodes, gn)
		}
		return g, nil
	}
	return nil, fmt.Errorf("architecture spec: the container %q is not implemented in Go", class)
}

func childModule(value interface{}) (cnn.Module, error) {
	wrapped, ok := value.(map[string]interface{})
	if !ok || wrapped["__module__"] == nil {
		return nil, fmt.Errorf("architecture spec: expected a {\"__module__\": ...} child, got %v", value)
	}
	return fromSpec(wrapped["__module__"])
}

// layer builds one strided.nn layer from its constructor arguments (strided's signatures).
func layer(class string, a arguments) (cnn.Module, error) {
	switch class {
	case "Conv2d":
		in, out := a.int(0, "in_channels", required), a.int(1, "out_channels", required)
		kernel, stride, dilation := a.pair(2, "kernel_size", required), a.pair(3, "stride", 1), a.pair(5, "dilation", 1)
		groups, bias := a.int(6, "groups", 1), a.bool(7, "bias", true)
		if mode := a.str(8, "padding_mode", "zeros"); mode != "zeros" {
			return nil, fmt.Errorf("architecture spec: Conv2d padding_mode %q is not implemented in Go (zeros is)", mode)
		}
		var pad [4]int
		switch p := a.get(4, "padding"); p {
		case "valid", nil:
		case "same": // total d*(k-1) per axis; the odd pixel goes right/bottom, as PyTorch
			th, tw := dilation[0]*(kernel[0]-1), dilation[1]*(kernel[1]-1)
			pad = [4]int{th / 2, th - th/2, tw / 2, tw - tw/2}
		default:
			ph := a.pair(4, "padding", 0)
			pad = [4]int{ph[0], ph[0], ph[1], ph[1]}
		}
		return cnn.NewConv2dFull(in, out, kernel, stride, pad, dilation, groups, bias), nil
	case "BatchNorm2d":
		if !a.bool(4, "track_running_stats", true) || !a.bool(-1, "bias", true) {
			return nil, fmt.Errorf("architecture spec: BatchNorm2d without running statistics or without bias is " +
				"not implemented in Go")
		}
		return cnn.NewBatchNorm2d(a.int(0, "num_features", required), a.float(1, "eps", 1e-5), a.bool(3, "affine", true)), nil
	case "Linear":
		return cnn.NewLinear(a.int(0, "in_features", required), a.int(1, "out_features", required), a.bool(2, "bias", true)), nil
	case "MaxPool2d":
		kernel := a.pair(0, "kernel_size", required)
		stride := kernel
		if a.get(1, "stride") != nil {
			stride = a.pair(1, "stride", 1)
		}
		return &cnn.MaxPool2d{Kernel: kernel, Stride: stride, Padding: a.pair(2, "padding", 0),
			Dilation: a.pair(3, "dilation", 1), CeilMode: a.bool(4, "ceil_mode", false)}, nil
	case "AvgPool2d":
		kernel := a.pair(0, "kernel_size", required)
		stride := kernel
		if a.get(1, "stride") != nil {
			stride = a.pair(1, "stride", 1)
		}
		return &cnn.AvgPool2d{Kernel: kernel, Stride: stride, Padding: a.pair(2, "padding", 0),
			CeilMode: a.bool(3, "ceil_mode", false), CountIncludePad: a.bool(4, "count_include_pad", true),
			DivisorOverride: a.int(5, "divisor_override", 0)}, nil
	case "AdaptiveAvgPool2d":
		size := a.get(0, "output_size")
		if items, ok := size.([]interface{}); ok && len(items) == 2 {
			h, w := optionalInt(items[0]), optionalInt(items[1])
			return &cnn.AdaptiveAvgPool2d{OutH: h, OutW: w}, nil
		}
		side := a.int(0, "output_size", required)
		return &cnn.AdaptiveAvgPool2d{OutH: side, OutW: side}, nil
	case "GlobalAvgPool2d":
		return &cnn.AdaptiveAvgPool2d{OutH: 1, OutW: 1}, nil
	case "ReLU":
		return &cnn.ReLU{}, nil
	case "Tanh":
		return &cnn.Tanh{}, nil
	case "Flatten":
		if a.int(0, "start_dim", 1) != 1 || a.int(1, "end_dim", -1) != -1 {
			return nil, fmt.Errorf("architecture spec: Go's Flatten merges dimensions 1 to -1 only")
		}
		return &cnn.Flatten{}, nil
	case "Dropout", "Dropout2d", "Identity":
		return &cnn.Identity{Name: class}, nil
	case "ResidualBlock":
		return cnn.NewResidualBlock(a.int(0, "in_channels", required), a.int(1, "out_channels", required), a.int(2, "stride", 1)), nil
	case "Bottleneck":
		return cnn.NewBottleneck(a.int(0, "in_channels", required), a.int(1, "mid_channels", required), a.int(2, "stride", 1),
			a.int(3, "expansion", 4)), nil
	case "DenseLayer":
		return cnn.NewDenseLayer(a.int(0, "in_channels", required), a.int(1, "growth_rate", required), a.int(2, "bn_size", 4)), nil
	case "DenseBlock":
		return cnn.NewDenseBlock(a.int(0, "in_channels", required), a.int(1, "growth_rate", required), a.int(2, "num_layers", required),
			a.int(3, "bn_size", 4)), nil
	case "Transition":
		return cnn.NewTransition(a.int(0, "in_channels", required), a.int(1, "out_channels", required)), nil
	}
	return nil, fmt.Errorf("architecture spec: the layer %q is not implemented in Go (see docs/go.md for the list)", class)
}
