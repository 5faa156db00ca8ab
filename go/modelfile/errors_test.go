package modelfile

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"strided/go/cnn"
)

// writeSafetensors writes a file with the given metadata and one F32 tensor "w" of shape (2,).
func writeSafetensors(t *testing.T, metadata map[string]string) string {
	t.Helper()
	header, _ := json.Marshal(map[string]interface{}{
		"__metadata__": metadata,
		"w":            map[string]interface{}{"dtype": "F32", "shape": []int{2}, "data_offsets": []int{0, 8}},
	})
	raw := make([]byte, 8, 8+len(header)+8)
	binary.LittleEndian.PutUint64(raw, uint64(len(header)))
	raw = append(append(raw, header...), make([]byte, 8)...)
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func expectError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; expected one saying %q", parts)
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %q", err, part)
		}
	}
}

func TestLoadRefusesWhatIsNotAStridedModel(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.safetensors"))
	expectError(t, err, "missing.safetensors", "no such model file")

	_, _, err = ParseSafetensors("short.bin", []byte{1, 2, 3})
	expectError(t, err, "short.bin", "not a readable safetensors file")

	raw := make([]byte, 16)
	binary.LittleEndian.PutUint64(raw, 1<<40)
	_, _, err = ParseSafetensors("huge.bin", raw)
	expectError(t, err, "header length")

	_, err = Load(writeSafetensors(t, map[string]string{"format": "pt"}))
	expectError(t, err, "not a strided model file")
}

func TestLoadNamesWhatGoDoesNotImplement(t *testing.T) {
	meta := `{"class_names": ["a", "b"], "input_shape": [1, 4, 4]}`
	for spec, message := range map[string]string{
		`{"class": "GELU", "args": [], "kwargs": {}}`:                                   `layer "GELU" is not implemented`,
		`{"builder": "mobilenet_v2", "kwargs": {}}`:                                     `"mobilenet_v2", which Go does not implement`,
		`{"class": "Conv2d", "args": [1, 2, 3], "kwargs": {"padding_mode": "reflect"}}`: `padding_mode "reflect"`,
		`{"class": "Linear", "args": [4], "kwargs": {}}`:                                `out_features must be given`,
	} {
		path := writeSafetensors(t, map[string]string{"format": Format, "strided.spec": spec, "strided.meta": meta,
			"strided.version": "0.1.0"})
		_, err := Load(path)
		expectError(t, err, path, message)
	}
}

func TestLoadRefusesWeightsThatDoNotFit(t *testing.T) {
	spec := `{"class": "Linear", "args": [1, 2], "kwargs": {}}` // weight (2, 1) and bias (2,): the file has "w"
	path := writeSafetensors(t, map[string]string{"format": Format, "strided.spec": spec, "strided.meta": "{}",
		"strided.version": "0.1.0"})
	_, err := Load(path)
	expectError(t, err, "weights do not fit", "missing keys [weight, bias]", "unexpected keys [w]")

	lin := cnn.NewLinear(1, 2, false)
	err = LoadState(lin, map[string]*cnn.Tensor{"weight": cnn.New(1, 2)})
	expectError(t, err, "weight has shape (1, 2) in the file, the architecture needs (2, 1)")
}

func TestLayerErrorsFollowStridedsConvention(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(error).Error(), "Conv2d(3 -> 16): expected input of shape (N, 3, H, W), got (8, 1, 28, 28)") {
			t.Fatalf("unexpected panic %v", r)
		}
	}()
	cnn.NewConv2d(3, 16, 3, 1, 1, true).Forward(cnn.New(8, 1, 28, 28))
}
