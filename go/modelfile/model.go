package modelfile

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"strided/go/cnn"
)

// Format is the marker strided writes in every model file's metadata.
const Format = "strided-model"

// Meta is what training recorded beside the weights (strided.meta).
type Meta struct {
	Name          string         `json:"name"`
	ClassNames    []string       `json:"class_names"`
	InputShape    []int          `json:"input_shape"`
	Preprocessing *Preprocessing `json:"preprocessing"`
}

// Model is a loaded model file: the network with its weights, and its metadata.
type Model struct {
	Net     cnn.Module
	Meta    Meta
	Version string // of the strided that wrote the file
}

// Load reads a strided model file and builds its network, refusing (with an error naming the
// file and the problem) anything that is not a strided model, a layer Go does not implement, or
// weights that do not fit the architecture.
func Load(path string) (*Model, error) {
	metadata, tensors, err := ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	if metadata["format"] != Format {
		return nil, fmt.Errorf("%s: not a strided model file (no '%s' marker in its metadata)", path, Format)
	}
	var spec interface{}
	model := &Model{Version: metadata["strided.version"]}
	if err := json.Unmarshal([]byte(metadata["strided.spec"]), &spec); err != nil {
		return nil, fmt.Errorf("%s: damaged strided metadata (%v)", path, err)
	}
	if err := json.Unmarshal([]byte(metadata["strided.meta"]), &model.Meta); err != nil {
		return nil, fmt.Errorf("%s: damaged strided metadata (%v)", path, err)
	}
	if model.Net, err = FromSpec(spec); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := LoadState(model.Net, tensors); err != nil {
		return nil, fmt.Errorf("%s: the weights do not fit the architecture: %v", path, err)
	}
	return model, nil
}

// LoadState copies tensors into m's state by name, strictly: every name of m must be there with
// its shape, and every tensor must belong to m.
func LoadState(m cnn.Module, tensors map[string]*cnn.Tensor) error {
	used := map[string]bool{}
	var missing []string
	for _, n := range m.State() {
		t, ok := tensors[n.Name]
		if !ok {
			missing = append(missing, n.Name)
			continue
		}
		if !cnn.SameShape(t.Shape, n.Value.Shape) {
			return fmt.Errorf("%s has shape %s in the file, the architecture needs %s", n.Name,
				cnn.ShapeString(t.Shape), cnn.ShapeString(n.Value.Shape))
		}
		copy(n.Value.Data, t.Data)
		used[n.Name] = true
	}
	var unexpected []string
	for name := range tensors {
		if !used[name] {
			unexpected = append(unexpected, name)
		}
	}
	sort.Strings(unexpected)
	if len(missing) > 0 || len(unexpected) > 0 {
		return fmt.Errorf("missing keys [%s], unexpected keys [%s]", strings.Join(missing, ", "),
			strings.Join(unexpected, ", "))
	}
	return nil
}

// Preprocess returns the preprocessing to apply: the one recorded, else (as strided's Predictor
// does) identity normalisation at the recorded input shape.
func (m *Model) Preprocess() (*Preprocessing, error) {
	if m.Meta.Preprocessing != nil {
		return m.Meta.Preprocessing, m.Meta.Preprocessing.check()
	}
	if len(m.Meta.InputShape) == 3 {
		c := m.Meta.InputShape[0]
		p := &Preprocessing{Mode: "RGB", Size: []int{m.Meta.InputShape[1], m.Meta.InputShape[2]}}
		if c == 1 {
			p.Mode = "L"
		}
		for i := 0; i < c; i++ {
			p.Mean, p.Std = append(p.Mean, 0), append(p.Std, 1)
		}
		return p, p.check()
	}
	return nil, fmt.Errorf("the model file records neither an input shape nor preprocessing")
}
