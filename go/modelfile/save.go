package modelfile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"strided/go/cnn"
)

// Save writes net as a strided model file that `strided predict` and `strided serve` load: its
// state as float32 safetensors, the architecture spec (a builder and its arguments, e.g.
// {"builder": "seed_cnn", "kwargs": {...}}) and meta in the metadata, as strided.io.save does.
// The file is written to a temporary name and renamed, so a reader never sees half a file.
func Save(path string, net cnn.Module, spec map[string]interface{}, meta Meta) error {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	header := map[string]interface{}{"__metadata__": map[string]string{
		"format": Format, "strided.version": "strided-go", "strided.spec": string(specJSON),
		"strided.meta": string(metaJSON),
	}}
	state := net.State()
	sort.Slice(state, func(a, b int) bool { return state[a].Name < state[b].Name })
	var data []byte
	for _, n := range state {
		dtype, begin := "F32", len(data)
		if n.Name == "num_batches_tracked" || filepath.Ext(n.Name) == ".num_batches_tracked" {
			dtype = "I64"
			for _, v := range n.Value.Data {
				data = binary.LittleEndian.AppendUint64(data, uint64(int64(v)))
			}
		} else {
			for _, v := range n.Value.Data {
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(v)))
			}
		}
		shape := append([]int{}, n.Value.Shape...) // [] rather than null for a 0-d buffer
		header[n.Name] = map[string]interface{}{"dtype": dtype, "shape": shape, "data_offsets": []int{begin, len(data)}}
	}
	headerJSON, err := json.Marshal(header)
	if err != nil {
		return err
	}
	raw := binary.LittleEndian.AppendUint64(nil, uint64(len(headerJSON)))
	raw = append(append(raw, headerJSON...), data...)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("%s: cannot write (%v)", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: cannot write (%v)", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
