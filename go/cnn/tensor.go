// Package cnn is the course's convolutional network written from scratch in Go: a small tensor
// type and one file per layer, each with its forward and its backward and the formula of both in
// the comment above it. It computes what strided (the Python library beside it) computes; the
// tests in this folder check every layer against numbers written by strided.
//
// Everything is float64: one number type keeps the code short, makes numerical gradient checks
// exact enough to mean something, and strided's float32 model files widen to it without loss.
package cnn

import (
	"fmt"
	"strings"
)

// Tensor is an n-dimensional array of float64 in row-major order; images are NCHW
// (batch, channels, height, width), as in strided and PyTorch.
type Tensor struct {
	Shape []int
	Data  []float64
}

// New returns a tensor of zeros of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float64, Numel(shape))}
}

// FromData wraps data (not copied) in a tensor of the given shape.
func FromData(data []float64, shape ...int) *Tensor {
	if len(data) != Numel(shape) {
		panic(fmt.Sprintf("FromData: %d values do not fill shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Numel is the number of elements of a shape.
func Numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// Clone returns a copy that shares nothing with t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float64(nil), t.Data...)}
}

// Reshape returns a tensor sharing t's data with another shape of the same size.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	if Numel(shape) != len(t.Data) {
		panic(fmt.Sprintf("Reshape: cannot view shape %v as %v", t.Shape, shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: t.Data}
}

// Dims4 returns N, C, H, W of a 4-d tensor.
func (t *Tensor) Dims4() (int, int, int, int) {
	return t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
}

// SameShape reports whether a and b have the same shape.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ShapeString writes a shape as strided does: (8, 1, 28, 28).
func ShapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, s := range shape {
		parts[i] = fmt.Sprint(s)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// checkInput panics with strided's error convention (the layer's label, what arrived, what was
// expected) unless x has rank 4 and, when channels > 0, that many channels.
func checkInput(label string, x *Tensor, channels int) {
	if len(x.Shape) != 4 || (channels > 0 && x.Shape[1] != channels) {
		c := "C"
		if channels > 0 {
			c = fmt.Sprint(channels)
		}
		panic(fmt.Errorf("%s: expected input of shape (N, %s, H, W), got %s", label, c, ShapeString(x.Shape)))
	}
}

// checkGrad panics unless the gradient handed to a backward has the shape the forward produced.
func checkGrad(label string, grad *Tensor, shape []int) {
	if !SameShape(grad.Shape, shape) {
		panic(fmt.Errorf("%s: backward expected a gradient of shape %s, got %s", label,
			ShapeString(shape), ShapeString(grad.Shape)))
	}
}
