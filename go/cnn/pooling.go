package cnn

import "fmt"

// poolOutputSize is PyTorch's pooling output size along one axis:
//
//	out = floor((size + 2*pad - dilation*(kernel - 1) - 1) / stride) + 1   (ceil instead of floor in ceil mode)
//
// and, in ceil mode, a last window that would start in the right padding is dropped.
func poolOutputSize(size, kernel, stride, pad, dilation int, ceilMode bool) int {
	span := size + 2*pad - dilation*(kernel-1) - 1
	if span < 0 {
		return 0
	}
	out := span/stride + 1
	if ceilMode && span%stride != 0 {
		out++
		if (out-1)*stride >= size+pad {
			out--
		}
	}
	return out
}

// poolGeometry checks a pooling input and returns N, C, H, W and the output size.
func poolGeometry(label string, x *Tensor, kernel, stride, pad, dilation [2]int, ceilMode bool) (n, c, h, w, oh, ow int) {
	checkInput(label, x, 0)
	n, c, h, w = x.Dims4()
	oh = poolOutputSize(h, kernel[0], stride[0], pad[0], dilation[0], ceilMode)
	ow = poolOutputSize(w, kernel[1], stride[1], pad[1], dilation[1], ceilMode)
	if oh < 1 || ow < 1 {
		panic(fmt.Errorf("%s: the window is larger than the padded input; got input of shape %s",
			label, ShapeString(x.Shape)))
	}
	return
}
