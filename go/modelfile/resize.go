package modelfile

import "math"

// ResizeBilinear resizes one 8-bit plane (inW x inH) to outW x outH exactly as Pillow's
// Image.resize(size, BILINEAR) does (libImaging/Resample.c), so the bytes are identical:
//
//   - a separable convolution, horizontal pass first, then vertical, each rounded to uint8;
//   - output pixel i is centred at c = (i + 0.5) * scale in input coordinates, scale = in/out;
//   - its weights are the triangle filter max(0, 1 - |x + 0.5 - c| / f) over input pixels x with
//     f = max(scale, 1): when shrinking, the triangle widens to cover every input pixel (an
//     anti-aliasing filter; a textbook 2x2 bilinear lookup would skip pixels), normalised to sum 1;
//   - the weights become fixed-point integers with 22 fractional bits, and each output is
//     (sum of weight * pixel + 2^21) >> 22, clipped to 0..255.
//
// Enlarging, it is the ordinary bilinear interpolation with pixel centres at half-integers.
func ResizeBilinear(src []uint8, inW, inH, outW, outH int) []uint8 {
	if inW == outW && inH == outH {
		return append([]uint8(nil), src...)
	}
	tmp, tmpW := src, inW
	if outW != inW {
		bounds, weights, k := resampleCoefficients(inW, outW)
		tmp, tmpW = make([]uint8, outW*inH), outW
		for y := 0; y < inH; y++ {
			row := src[y*inW : (y+1)*inW]
			for x := 0; x < outW; x++ {
				first, count := bounds[2*x], bounds[2*x+1]
				sum := int64(1) << (precisionBits - 1)
				for i := 0; i < count; i++ {
					sum += int64(row[first+i]) * weights[x*k+i]
				}
				tmp[y*outW+x] = clip8(sum)
			}
		}
	}
	if outH == inH {
		return tmp
	}
	bounds, weights, k := resampleCoefficients(inH, outH)
	out := make([]uint8, outW*outH)
	for y := 0; y < outH; y++ {
		first, count := bounds[2*y], bounds[2*y+1]
		for x := 0; x < tmpW; x++ {
			sum := int64(1) << (precisionBits - 1)
			for i := 0; i < count; i++ {
				sum += int64(tmp[(first+i)*tmpW+x]) * weights[y*k+i]
			}
			out[y*outW+x] = clip8(sum)
		}
	}
	return out
}

// precisionBits is Pillow's fixed point for 8-bit images: 32 - 8 - 2.
const precisionBits = 32 - 8 - 2

// resampleCoefficients is Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear
// filter (support 1): for each output pixel, its first input pixel and count (bounds), and k
// fixed-point weights.
func resampleCoefficients(inSize, outSize int) (bounds []int, weights []int64, k int) {
	scale := float64(inSize) / float64(outSize)
	filterScale := math.Max(scale, 1)
	support := 1.0 * filterScale
	k = int(math.Ceil(support))*2 + 1
	bounds, weights = make([]int, 2*outSize), make([]int64, outSize*k)
	w := make([]float64, k)
	for i := 0; i < outSize; i++ {
		center := (float64(i) + 0.5) * scale
		first := int(center - support + 0.5) // C's (int) cast: towards zero
		if first < 0 {
			first = 0
		}
		last := int(center + support + 0.5)
		if last > inSize {
			last = inSize
		}
		count := last - first
		total := 0.0
		for x := 0; x < count; x++ {
			w[x] = triangle((float64(x+first) - center + 0.5) / filterScale)
			total += w[x]
		}
		for x := 0; x < count; x++ {
			if total != 0 {
				w[x] /= total
			}
			// Pillow rounds half away from zero: (int)(0.5 + v * 2^22) for v >= 0.
			if w[x] < 0 {
				weights[i*k+x] = int64(int32(-0.5 + w[x]*(1<<precisionBits)))
			} else {
				weights[i*k+x] = int64(int32(0.5 + w[x]*(1<<precisionBits)))
			}
		}
		bounds[2*i], bounds[2*i+1] = first, count
	}
	return bounds, weights, k
}

func triangle(x float64) float64 {
	x = math.Abs(x)
	if x < 1 {
		return 1 - x
	}
	return 0
}

func clip8(v int64) uint8 {
	if v >= 1<<precisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> precisionBits)
}
