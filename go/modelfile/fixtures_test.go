package modelfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"math"
	"sort"
	"strings"
	"testing"

	"strided/go/cnn"
)

// The fixtures are written by strided (go/testdata/make_fixtures.py) in float64; Go computes in
// float64 too, so forward and backward must agree to rounding: 1e-12 relative.
const tolerance = 1e-12

type fixtureCase struct {
	Name     string      `json:"name"`
	Spec     interface{} `json:"spec"`
	Backward bool        `json:"backward"`
}

func readFixtures(t *testing.T) (map[string]string, map[string]*cnn.Tensor) {
	t.Helper()
	meta, tensors, err := ReadSafetensors("../testdata/layers.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	return meta, tensors
}

// relError is max|a - b| / max|b| (max|a - b| when b is all zeros), as strided's tests measure.
func relError(a, b *cnn.Tensor) float64 {
	diff, scale := 0.0, 0.0
	for i := range b.Data {
		diff = math.Max(diff, math.Abs(a.Data[i]-b.Data[i]))
		scale = math.Max(scale, math.Abs(b.Data[i]))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}

func expectClose(t *testing.T, what string, got, want *cnn.Tensor) float64 {
	t.Helper()
	if !cnn.SameShape(got.Shape, want.Shape) {
		t.Fatalf("%s: shape %v, strided's is %v", what, got.Shape, want.Shape)
	}
	err := relError(got, want)
	if err > tolerance || math.IsNaN(err) {
		t.Errorf("%s: relative error %.3e > %.0e", what, err, tolerance)
	}
	return err
}

func TestLayersMatchStrided(t *testing.T) {
	meta, tensors := readFixtures(t)
	var cases []fixtureCase
	if err := json.Unmarshal([]byte(meta["cases"]), &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 30 {
		t.Fatalf("only %d fixture cases: regenerate go/testdata/layers.safetensors", len(cases))
	}
	for _, c := range cases {
		c := c
		t.Run(c.Name, func(t *testing.T) {
			m, err := FromSpec(c.Spec)
			if err != nil {
				t.Fatal(err)
			}
			prefix := c.Name + "/state/"
			state := map[string]*cnn.Tensor{}
			for name, value := range tensors {
				if strings.HasPrefix(name, prefix) {
					state[strings.TrimPrefix(name, prefix)] = value
				}
			}
			if err := LoadState(m, state); err != nil {
				t.Fatal(err)
			}
			errors := []string{}
			y := m.Forward(tensors[c.Name+"/x"])
			errors = append(errors, formatErr("forward", expectClose(t, "forward", y, tensors[c.Name+"/y"])))
			if c.Backward {
				cnn.ZeroGrad(m)
				dx := m.Backward(tensors[c.Name+"/grad_y"])
				errors = append(errors, formatErr("dx", expectClose(t, "input gradient", dx, tensors[c.Name+"/grad_x"])))
				params := cnn.Parameters(m)
				if len(params) != countPrefix(tensors, c.Name+"/grad/") {
					t.Fatalf("%d parameters in Go, %d in strided", len(params), countPrefix(tensors, c.Name+"/grad/"))
				}
				for _, p := range params {
					want, ok := tensors[c.Name+"/grad/"+p.Name]
					if !ok {
						t.Fatalf("strided has no gradient for %s", p.Name)
					}
					errors = append(errors, formatErr("d"+p.Name, expectClose(t, "gradient of "+p.Name, p.Grad, want)))
				}
			}
			t.Logf("relative errors: %s", strings.Join(errors, ", "))
		})
	}
}

func formatErr(what string, err float64) string { return fmt.Sprintf("%s %.1e", what, err) }

func countPrefix(tensors map[string]*cnn.Tensor, prefix string) int {
	n := 0
	for name := range tensors {
		if strings.HasPrefix(name, prefix) {
			n++
		}
	}
	return n
}

func TestCrossEntropyMatchesStrided(t *testing.T) {
	_, tensors := readFixtures(t)
	logits := tensors["cross_entropy/logits"]
	labels := make([]int, len(tensors["cross_entropy/labels"].Data))
	for i, v := range tensors["cross_entropy/labels"].Data {
		labels[i] = int(v)
	}
	loss := &cnn.SoftmaxCrossEntropy{}
	got := loss.Forward(logits, labels)
	want := tensors["cross_entropy/loss"].Data[0]
	if e := math.Abs(got-want) / math.Abs(want); e > tolerance {
		t.Errorf("loss %.17g, strided's %.17g (relative error %.1e)", got, want, e)
	}
	e := expectClose(t, "dL/dlogits", loss.Backward(), tensors["cross_entropy/grad"])
	t.Logf("relative errors: loss %.1e, dlogits %.1e", math.Abs(got-want)/math.Abs(want), e)
}

func TestSGDMatchesStrided(t *testing.T) {
	_, tensors := readFixtures(t)
	lin := cnn.NewLinear(4, 3, false) // a module whose one parameter is the (3, 4) weight
	copy(lin.Weight.Data, tensors["sgd/initial"].Data)
	opt := cnn.NewSGD(lin, 0.1, 0.9, 0.01)
	for step := 0; step < 3; step++ {
		copy(lin.WeightGrad.Data, tensors[fmt.Sprintf("sgd/grad%d", step)].Data)
		opt.Step()
	}
	t.Logf("relative error after 3 steps: %.1e", expectClose(t, "parameters after 3 steps", lin.Weight, tensors["sgd/final"]))
}

// Pillow's convert + resize(BILINEAR) and Go's must give the very same bytes.
func TestResizeMatchesPillow(t *testing.T) {
	meta, tensors := readFixtures(t)
	var cases []struct {
		Name string `json:"name"`
		Mode string `json:"mode"`
		Size []int  `json:"size"`
	}
	if err := json.Unmarshal([]byte(meta["resizes"]), &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		rgb := tensors[c.Name+"/rgb"]
		h, w := rgb.Shape[0], rgb.Shape[1]
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for i := 0; i < h*w; i++ {
			img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] =
				uint8(rgb.Data[3*i]), uint8(rgb.Data[3*i+1]), uint8(rgb.Data[3*i+2]), 255
		}
		p := &Preprocessing{Mode: c.Mode, Size: c.Size, Mean: []float64{0, 0, 0}[:channels(c.Mode)],
			Std: []float64{1, 1, 1}[:channels(c.Mode)]}
		got, err := p.ToUint8(img)
		if err != nil {
			t.Fatal(err)
		}
		want := tensors[c.Name+"/out"] // (H, W) or (H, W, 3)
		differ := 0
		for ch := 0; ch < p.Channels(); ch++ {
			for i := 0; i < c.Size[0]*c.Size[1]; i++ {
				if float64(got[ch*c.Size[0]*c.Size[1]+i]) != want.Data[i*p.Channels()+ch] {
					differ++
				}
			}
		}
		if differ > 0 {
			t.Errorf("%s: %dx%d %s -> %v: %d of %d bytes differ from Pillow's", c.Name, w, h, c.Mode, c.Size,
				differ, len(got))
		}
	}
}

func channels(mode string) int {
	if mode == "L" {
		return 1
	}
	return 3
}

func TestFixtureNamesAreSorted(t *testing.T) { // the safetensors reader must see every tensor once
	_, tensors := readFixtures(t)
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 100 {
		t.Fatalf("only %d tensors read", len(names))
	}
}

// The builders of the large networks (ResNet-18/34/50, DenseNet-121, ...) name and shape their
// state exactly as strided's do, so their model files load; a forward on a small image runs.
func TestBuildersMatchStridedState(t *testing.T) {
	meta, _ := readFixtures(t)
	var architectures []struct {
		Spec  interface{}     `json:"spec"`
		State [][]interface{} `json:"state"`
	}
	if err := json.Unmarshal([]byte(meta["architectures"]), &architectures); err != nil {
		t.Fatal(err)
	}
	for _, a := range architectures {
		name := fmt.Sprint(a.Spec.(map[string]interface{})["builder"])
		m, err := FromSpec(a.Spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := map[string]string{}
		for _, entry := range a.State {
			want[entry[0].(string)] = fmt.Sprint(entry[1])
		}
		got := map[string]string{}
		for _, n := range m.State() {
			shape := make([]interface{}, len(n.Value.Shape))
			for i, s := range n.Value.Shape {
				shape[i] = float64(s)
			}
			got[n.Name] = fmt.Sprint(shape)
		}
		for key, shape := range want {
			if got[key] != shape {
				t.Errorf("%s: %s has shape %q in Go, %s in strided", name, key, got[key], shape)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d state tensors in Go, %d in strided", name, len(got), len(want))
		}
		kwargs, _ := a.Spec.(map[string]interface{})["kwargs"].(map[string]interface{})
		channels := 3
		if c, ok := kwargs["in_channels"].(float64); ok {
			channels = int(c)
		}
		classes := 0
		for _, n := range m.State() {
			if n.Grad != nil && len(n.Value.Shape) == 2 { // the last Linear decides the class count
				classes = n.Value.Shape[0]
			}
		}
		y := m.Forward(cnn.New(1, channels, 32, 32))
		if len(y.Shape) != 2 || y.Shape[0] != 1 || y.Shape[1] != classes {
			t.Errorf("%s: output shape %v on a 32x32 image, expected [1 %d]", name, y.Shape, classes)
		}
	}
}

// JPEG: Go's decoder with libjpeg's chroma upsampling and colour conversion (jpeg.go) against
// Pillow's libjpeg. The inverse DCTs differ (both integer, rounded differently), so a few values
// may differ by a few levels; Go's own RGB conversion differed by up to 44 on 4:2:0 files.
func TestJPEGCloseToPillow(t *testing.T) {
	meta, tensors := readFixtures(t)
	var names []string
	if err := json.Unmarshal([]byte(meta["jpegs"]), &names); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		file := tensors[name+"/file"]
		raw := make([]byte, len(file.Data))
		for i, v := range file.Data {
			raw[i] = byte(v)
		}
		img, _, err := image.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		want := tensors[name+"/rgb"] // (H, W, 3)
		h, w := want.Shape[0], want.Shape[1]
		p := &Preprocessing{Mode: "RGB", Size: []int{h, w}, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}}
		got, err := p.ToUint8(img)
		if err != nil {
			t.Fatal(err)
		}
		largest, differ := 0.0, 0
		for c := 0; c < 3; c++ {
			for i := 0; i < h*w; i++ {
				d := math.Abs(float64(got[c*h*w+i]) - want.Data[3*i+c])
				largest = math.Max(largest, d)
				if d > 0 {
					differ++
				}
			}
		}
		t.Logf("%s (%dx%d): largest difference %.0f, %.1f%% of values differ", name, w, h, largest,
			100*float64(differ)/float64(3*h*w))
		if largest > 3 || differ*10 > 3*h*w {
			t.Errorf("%s: largest difference %.0f (at most 3 expected), %d of %d values differ (at most 10%%)",
				name, largest, differ, 3*h*w)
		}
	}
}
