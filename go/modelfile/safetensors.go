// Package modelfile reads strided's model files: a safetensors container whose metadata holds the
// architecture spec (strided.spec), what training knew (strided.meta) and strided's version, and
// builds the Go network from them.
package modelfile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	"strided/go/cnn"
)

// The safetensors layout: an 8-byte little-endian header length n, n bytes of JSON header, then
// the tensors' bytes. The header maps each tensor name to its dtype, shape and [begin, end) byte
// offsets in the data part, and "__metadata__" to a string -> string map.
type tensorEntry struct {
	Dtype       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// maxHeader bounds the JSON header (safetensors' own limit is 100 MB) so that a damaged length
// cannot make us allocate gigabytes.
const maxHeader = 100 << 20

// ReadSafetensors returns the metadata and the tensors (widened to float64) of a safetensors file.
func ReadSafetensors(path string) (map[string]string, map[string]*cnn.Tensor, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: no such model file (%v)", path, err)
	}
	return ParseSafetensors(path, raw)
}

// ParseSafetensors is ReadSafetensors on bytes already read; path names them in errors.
func ParseSafetensors(path string, raw []byte) (map[string]string, map[string]*cnn.Tensor, error) {
	bad := func(format string, args ...interface{}) error {
		return fmt.Errorf("%s: not a readable safetensors file (%s)", path, fmt.Sprintf(format, args...))
	}
	if len(raw) < 8 {
		return nil, nil, bad("%d bytes, shorter than the 8-byte header length", len(raw))
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	if n > maxHeader || n > uint64(len(raw)-8) {
		return nil, nil, bad("header length %d does not fit in the file's %d bytes", n, len(raw))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		return nil, nil, bad("header is not JSON: %v", err)
	}
	data := raw[8+n:]
	metadata := map[string]string{}
	tensors := map[string]*cnn.Tensor{}
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "__metadata__" {
			if err := json.Unmarshal(header[name], &metadata); err != nil {
				return nil, nil, bad("__metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		var entry tensorEntry
		if err := json.Unmarshal(header[name], &entry); err != nil {
			return nil, nil, bad("tensor %q: %v", name, err)
		}
		t, err := decodeTensor(entry, data)
		if err != nil {
			return nil, nil, bad("tensor %q: %v", name, err)
		}
		tensors[name] = t
	}
	return metadata, tensors, nil
}

// decodeTensor widens a little-endian F32, F64, I64 or U8 tensor to float64.
func decodeTensor(entry tensorEntry, data []byte) (*cnn.Tensor, error) {
	sizes := map[string]int{"F32": 4, "F64": 8, "I64": 8, "U8": 1}
	size, ok := sizes[entry.Dtype]
	if !ok {
		return nil, fmt.Errorf("dtype %s is not supported (F32, F64, I64, U8 are)", entry.Dtype)
	}
	for _, s := range entry.Shape {
		if s < 0 {
			return nil, fmt.Errorf("negative size in shape %v", entry.Shape)
		}
	}
	count := cnn.Numel(entry.Shape)
	begin, end := entry.DataOffsets[0], entry.DataOffsets[1]
	if begin < 0 || end < begin || end > len(data) || end-begin != count*size {
		return nil, fmt.Errorf("offsets %v do not hold %d values of %s in %d bytes", entry.DataOffsets, count,
			entry.Dtype, len(data))
	}
	values := make([]float64, count)
	b := data[begin:end]
	for i := range values {
		switch entry.Dtype {
		case "F32":
			values[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		case "F64":
			values[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		case "I64":
			values[i] = float64(int64(binary.LittleEndian.Uint64(b[8*i:])))
		case "U8":
			values[i] = float64(b[i])
		}
	}
	return cnn.FromData(values, entry.Shape...), nil
}
