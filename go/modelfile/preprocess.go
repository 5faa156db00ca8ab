package modelfile

import (
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registers the decoders image.Decode uses
	_ "image/jpeg"
	_ "image/png"
	"os"

	"strided/go/cnn"
)

// Preprocessing is the recorded way an image becomes a network input (strided/preprocess.py):
//
//	file -> decode -> mode L or RGB -> resize to Size (H, W), bilinear -> uint8 (C, H, W)
//	     -> x / 255 -> (x - mean[c]) / std[c]
//
// The mode conversion and the resize follow Pillow's integer arithmetic exactly (see resize.go),
// so a PNG gives the very bytes strided's Pillow gives. JPEG differs: Go's decoder is not
// libjpeg (docs/go.md gives the measured difference).
type Preprocessing struct {
	Mode string    `json:"mode"`
	Size []int     `json:"size"`
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// Channels is 1 for mode L, 3 for RGB.
func (p *Preprocessing) Channels() int {
	if p.Mode == "L" {
		return 1
	}
	return 3
}

func (p *Preprocessing) check() error {
	if p.Mode != "L" && p.Mode != "RGB" {
		return fmt.Errorf("preprocessing: mode must be 'L' or 'RGB', got %q", p.Mode)
	}
	if len(p.Size) != 2 || p.Size[0] < 1 || p.Size[1] < 1 {
		return fmt.Errorf("preprocessing: size must be two positive sizes (H, W), got %v", p.Size)
	}
	if len(p.Mean) != p.Channels() || len(p.Std) != p.Channels() {
		return fmt.Errorf("preprocessing: mode %s needs %d mean and std values, got %d and %d", p.Mode,
			p.Channels(), len(p.Mean), len(p.Std))
	}
	for _, s := range p.Std {
		if s <= 0 {
			return fmt.Errorf("preprocessing: std must be positive, got %v", p.Std)
		}
	}
	return nil
}

// LoadFile decodes an image file into the network input (C, H, W).
func (p *Preprocessing) LoadFile(path string) (*cnn.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read (%v)", path, err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not an image Go can decode (PNG, JPEG, GIF): %v", path, err)
	}
	pixels, err := p.ToUint8(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return p.Normalize(pixels), nil
}

// ToUint8 converts img to the mode and size: planes of uint8, (C, H, W) in one slice.
func (p *Preprocessing) ToUint8(img image.Image) ([]uint8, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	planes, err := toMode(img, p.Mode)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	h, w := p.Size[0], p.Size[1]
	out := make([]uint8, 0, len(planes)*h*w)
	for _, plane := range planes {
		out = append(out, ResizeBilinear(plane, b.Dx(), b.Dy(), w, h)...)
	}
	return out, nil
}

// Normalize scales uint8 (C, H, W) to [0, 1] and normalises each channel: (x/255 - mean) / std.
func (p *Preprocessing) Normalize(pixels []uint8) *cnn.Tensor {
	c, h, w := p.Channels(), p.Size[0], p.Size[1]
	t := cnn.New(c, h, w)
	for ch := 0; ch < c; ch++ {
		for i := 0; i < h*w; i++ {
			t.Data[ch*h*w+i] = (float64(pixels[ch*h*w+i])/255 - p.Mean[ch]) / p.Std[ch]
		}
	}
	return t
}

// toMode returns the image's planes in mode L (one) or RGB (three), as Pillow's convert does:
// L from colour is ITU-R 601-2 luma in Pillow's fixed point, (19595 R + 38470 G + 7471 B + 2^15) >> 16;
// alpha is dropped (not composited), grey is copied to R, G and B.
func toMode(img image.Image, mode string) ([][]uint8, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return nil, fmt.Errorf("image has no pixels (%dx%d)", w, h)
	}
	if gray, ok := img.(*image.Gray); ok {
		plane := make([]uint8, w*h)
		for y := 0; y < h; y++ {
			copy(plane[y*w:(y+1)*w], gray.Pix[y*gray.Stride:y*gray.Stride+w])
		}
		if mode == "L" {
			return [][]uint8{plane}, nil
		}
		return [][]uint8{plane, plane, plane}, nil
	}
	if ycc, ok := img.(*image.YCbCr); ok { // a colour JPEG: libjpeg's upsampling and colours, as Pillow
		r, g, bl := libjpegRGB(ycc)
		return fromRGB(r, g, bl, mode), nil
	}
	switch img.ColorModel() {
	case color.Gray16Model, color.RGBA64Model, color.NRGBA64Model, color.CMYKModel:
		return nil, fmt.Errorf("16-bit and CMYK images are not supported by strided-go (8-bit grey, RGB, RGBA, " +
			"palette are)")
	}
	r, g, bl := make([]uint8, w*h), make([]uint8, w*h), make([]uint8, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := rgb8(img.At(b.Min.X+x, b.Min.Y+y))
			r[y*w+x], g[y*w+x], bl[y*w+x] = c.R, c.G, c.B
		}
	}
	return fromRGB(r, g, bl, mode), nil
}

// fromRGB returns the planes in mode RGB, or L by Pillow's luma.
func fromRGB(r, g, b []uint8, mode string) [][]uint8 {
	if mode == "RGB" {
		return [][]uint8{r, g, b}
	}
	l := make([]uint8, len(r))
	for i := range l {
		l[i] = uint8((uint32(r[i])*19595 + uint32(g[i])*38470 + uint32(b[i])*7471 + 0x8000) >> 16)
	}
	return [][]uint8{l}
}

// rgb8 is a colour's 8-bit red, green and blue without alpha premultiplication (what Pillow keeps).
func rgb8(c color.Color) color.NRGBA {
	switch v := c.(type) {
	case color.NRGBA:
		return v
	case color.RGBA:
		if v.A == 255 {
			return color.NRGBA{v.R, v.G, v.B, 255}
		}
	}
	return color.NRGBAModel.Convert(c).(color.NRGBA)
}
