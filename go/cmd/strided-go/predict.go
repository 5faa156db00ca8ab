package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"strided/go/cnn"
	"strided/go/modelfile"
)

var imageSuffixes = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true}

const batchSize = 64

func predict(args []string) (err error) {
	defer recovered(&err)
	topK, asJSON := 3, false
	var positional []string
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "--json":
			asJSON = true
		case arg == "--top-k" || strings.HasPrefix(arg, "--top-k="):
			value := strings.TrimPrefix(arg, "--top-k=")
			if arg == "--top-k" {
				if i+1 == len(args) {
					return fmt.Errorf("--top-k needs a number")
				}
				i++
				value = args[i]
			}
			if topK, err = strconv.Atoi(value); err != nil {
				return fmt.Errorf("--top-k: expected an integer, got %q", value)
			}
		case strings.HasPrefix(arg, "--"):
			return fmt.Errorf("unknown option %s", arg)
		default:
			positional = append(positional, arg)
		}
	}
	if len(positional) < 2 {
		return fmt.Errorf("expected MODEL and at least one IMAGE (strided-go predict MODEL IMAGE... [--top-k K] [--json])")
	}
	model, err := modelfile.Load(positional[0])
	if err != nil {
		return err
	}
	pre, err := model.Preprocess()
	if err != nil {
		return fmt.Errorf("%s: %v", positional[0], err)
	}
	paths, err := imagePaths(positional[1:])
	if err != nil {
		return err
	}
	for start := 0; start < len(paths); start += batchSize {
		chunk := paths[start:cnn.MinInt(start+batchSize, len(paths))]
		inputs := make([]*cnn.Tensor, len(chunk))
		for i, path := range chunk {
			if inputs[i], err = pre.LoadFile(path); err != nil {
				return err
			}
		}
		probs := cnn.Softmax(model.Net.Forward(stack(inputs)))
		classes := probs.Shape[1]
		names := model.Meta.ClassNames
		if len(names) == 0 {
			for i := 0; i < classes; i++ {
				names = append(names, strconv.Itoa(i))
			}
		}
		k := cnn.MaxInt(1, cnn.MinInt(topK, len(names)))
		for i, path := range chunk {
			printPrediction(path, probs.Data[i*classes:(i+1)*classes], names, k, asJSON)
		}
	}
	return nil
}

func printPrediction(path string, p []float64, names []string, k int, asJSON bool) {
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return p[order[a]] > p[order[b]] })
	rows := make([]string, k)
	for j, i := range order[:k] {
		if asJSON {
			rows[j] = fmt.Sprintf(`{"class": %s, "index": %d, "probability": %s}`, pyString(names[i]), i, pyFloat(p[i]))
		} else {
			rows[j] = fmt.Sprintf("%s %.1f%%", names[i], 100*p[i])
		}
	}
	if asJSON {
		fmt.Printf("{\"file\": %s, \"predictions\": [%s]}\n", pyString(path), strings.Join(rows, ", "))
	} else {
		fmt.Printf("%s: %s\n", path, strings.Join(rows, ", "))
	}
}

// stack turns inputs of shape (C, H, W) into one batch (N, C, H, W).
func stack(inputs []*cnn.Tensor) *cnn.Tensor {
	shape := append([]int{len(inputs)}, inputs[0].Shape...)
	batch := cnn.New(shape...)
	size := len(inputs[0].Data)
	for i, t := range inputs {
		copy(batch.Data[i*size:(i+1)*size], t.Data)
	}
	return batch
}

// imagePaths expands folders into their image files, sorted as strided sorts them (by path parts).
func imagePaths(arguments []string) ([]string, error) {
	var paths []string
	for _, argument := range arguments {
		info, err := os.Stat(argument)
		if err != nil {
			return nil, fmt.Errorf("%s: no such file or folder", argument)
		}
		if !info.IsDir() {
			paths = append(paths, argument)
			continue
		}
		var found []string
		err = filepath.Walk(argument, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && imageSuffixes[strings.ToLower(filepath.Ext(path))] {
				found = append(found, path)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		sort.Slice(found, func(a, b int) bool { return lessParts(found[a], found[b]) })
		paths = append(paths, found...)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no images found in %s", strings.Join(arguments, " "))
	}
	return paths, nil
}

// lessParts compares paths part by part, as Python's sorted() does with Path objects.
func lessParts(a, b string) bool {
	pa, pb := strings.Split(filepath.ToSlash(a), "/"), strings.Split(filepath.ToSlash(b), "/")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}
