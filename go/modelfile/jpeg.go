package modelfile

import (
	"image"

	"strided/go/cnn"
)

// Go's image/jpeg hands back Y, Cb and Cr planes; its own conversion to RGB repeats subsampled
// chroma (each Cb, Cr value covers 2x2 pixels in a 4:2:0 JPEG, Pillow's default) and rounds
// differently from libjpeg, which Pillow uses. These functions do libjpeg's steps instead:
// "fancy" chroma upsampling (a triangle filter: 3/4 of the nearer chroma sample, 1/4 of the next,
// in libjpeg's integer rounding) and libjpeg's fixed-point YCbCr -> RGB. What remains different is
// the inverse DCT (Go's and libjpeg's integer IDCTs round differently): docs/go.md has the figures.

// libjpegRGB returns the R, G and B planes of a decoded JPEG as libjpeg would produce them.
func libjpegRGB(img *image.YCbCr) (r, g, b []uint8) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	y := make([]uint8, w*h)
	for row := 0; row < h; row++ {
		copy(y[row*w:(row+1)*w], img.Y[row*img.YStride:row*img.YStride+w])
	}
	cb, cr := upsampleChroma(img, img.Cb, w, h), upsampleChroma(img, img.Cr, w, h)
	r, g, b = make([]uint8, w*h), make([]uint8, w*h), make([]uint8, w*h)
	for i := range y {
		// libjpeg's tables (jdcolor.c), 16 fractional bits; >> on a negative int is a floor, as in C.
		c, d := int(cr[i])-128, int(cb[i])-128
		r[i] = clamp255(int(y[i]) + (91881*c+32768)>>16)
		g[i] = clamp255(int(y[i]) + (-22554*d-46802*c+32768)>>16)
		b[i] = clamp255(int(y[i]) + (116130*d+32768)>>16)
	}
	return r, g, b
}

// upsampleChroma brings one chroma plane to w x h: libjpeg's h2v2 and h2v1 fancy upsampling for
// 4:2:0 and 4:2:2 (planes at least 3 samples wide, as libjpeg), repetition otherwise and for the
// rarer ratios, and a copy for 4:4:4.
func upsampleChroma(img *image.YCbCr, plane []uint8, w, h int) []uint8 {
	out := make([]uint8, w*h)
	cw := (w + 1) / 2
	at := func(row, col int) int { // the chroma sample, edges replicated as libjpeg's context rows are
		if col >= cw {
			col = cw - 1
		}
		return int(plane[row*img.CStride+col])
	}
	ratio := img.SubsampleRatio
	if cw <= 2 { // libjpeg upsamples planes of one or two samples across by repetition
		ratio = image.YCbCrSubsampleRatio410
	}
	switch ratio {
	case image.YCbCrSubsampleRatio420:
		ch := (h + 1) / 2
		for outRow := 0; outRow < h; outRow++ {
			near, far := outRow/2, outRow/2-1 // even rows lean on the row above, odd ones on the row below
			if outRow%2 == 1 {
				far = outRow/2 + 1
			}
			if far < 0 {
				far = 0
			}
			if far >= ch {
				far = ch - 1
			}
			sum := func(col int) int { return 3*at(near, col) + at(far, col) }
			for col := 0; col < cw; col++ {
				this, last, next := sum(col), sum(cnn.MaxInt(col-1, 0)), sum(cnn.MinInt(col+1, cw-1))
				left, right := (3*this+last+8)>>4, (3*this+next+7)>>4
				if col == 0 {
					left = (4*this + 8) >> 4
				}
				if col == cw-1 {
					right = (4*this + 7) >> 4
				}
				put(out, outRow*w+2*col, left, w, 2*col)
				put(out, outRow*w+2*col+1, right, w, 2*col+1)
			}
		}
	case image.YCbCrSubsampleRatio422:
		for row := 0; row < h; row++ {
			for col := 0; col < cw; col++ {
				this, last, next := at(row, col), at(row, cnn.MaxInt(col-1, 0)), at(row, cnn.MinInt(col+1, cw-1))
				left, right := (3*this+last+1)>>2, (3*this+next+2)>>2
				if col == 0 {
					left = this
				}
				if col == cw-1 {
					right = this
				}
				put(out, row*w+2*col, left, w, 2*col)
				put(out, row*w+2*col+1, right, w, 2*col+1)
			}
		}
	default: // 4:4:4 (a copy), and 4:4:0, 4:1:1, 4:1:0 by repetition (Go's own way)
		for row := 0; row < h; row++ {
			for col := 0; col < w; col++ {
				out[row*w+col] = plane[img.COffset(col+img.Rect.Min.X, row+img.Rect.Min.Y)]
			}
		}
	}
	return out
}

// put writes v at i unless column col falls beyond the image (the last chroma sample of an odd
// width covers one pixel, not two).
func put(out []uint8, i, v, w, col int) {
	if col < w {
		out[i] = uint8(v)
	}
}

func clamp255(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}
