package cnn

import "fmt"

// Conv2d is a 2-d convolution (a cross-correlation, as in every deep-learning library):
//
//	y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * x_pad[n, g*C/G + c, i*s_h + p*d_h, j*s_w + q*d_w]
//
// where o belongs to group g = o / (O/G), c runs over that group's C/G input channels, s is the
// stride, d the dilation and x_pad the input with zeros around it (Pad: top, bottom, left, right).
// Output size: H_out = floor((H + top + bottom - d_h*(K_h - 1) - 1) / s_h) + 1, the same for W.
//
// It is computed as one matrix product per image and group: im2col lays every receptive field
// out as a column (cols: (C/G*K_h*K_w) x (H_out*W_out)), and y_g = W_g @ cols + b.
//
// Backward, with g = dL/dy:
//
//	dL/db[o] = sum_{n, i, j} g[n, o, i, j]
//	dL/dW_g  = sum_n g_g @ cols^T
//	dL/dx    = col2im(W_g^T @ g_g)   (each column's gradient is added back to the pixels it came from)
type Conv2d struct {
	InChannels, OutChannels, Groups int
	KernelH, KernelW                int
	StrideH, StrideW                int
	DilationH, DilationW            int
	Pad                             [4]int // top, bottom, left, right
	Weight, WeightGrad              *Tensor
	Bias, BiasGrad                  *Tensor // nil without a bias
	input                           *Tensor
}

// NewConv2d returns a square-kernel convolution with symmetric padding and zero weights
// (load them from a model file, or initialise them with InitUniform).
func NewConv2d(in, out, kernel, stride, padding int, bias bool) *Conv2d {
	return NewConv2dFull(in, out, [2]int{kernel, kernel}, [2]int{stride, stride},
		[4]int{padding, padding, padding, padding}, [2]int{1, 1}, 1, bias)
}

// NewConv2dFull is NewConv2d with every option: kernel, stride and dilation as (h, w), padding as
// (top, bottom, left, right), and groups.
func NewConv2dFull(in, out int, kernel, stride [2]int, pad [4]int, dilation [2]int, groups int, bias bool) *Conv2d {
	if groups < 1 || in%groups != 0 || out%groups != 0 {
		panic(fmt.Errorf("Conv2d: in_channels (%d) and out_channels (%d) must both be divisible by groups (%d)",
			in, out, groups))
	}
	c := &Conv2d{InChannels: in, OutChannels: out, Groups: groups, KernelH: kernel[0], KernelW: kernel[1],
		StrideH: stride[0], StrideW: stride[1], DilationH: dilation[0], DilationW: dilation[1], Pad: pad}
	c.Weight = New(out, in/groups, kernel[0], kernel[1])
	c.WeightGrad = New(c.Weight.Shape...)
	if bias {
		c.Bias, c.BiasGrad = New(out), New(out)
	}
	return c
}

func (c *Conv2d) Label() string { return fmt.Sprintf("Conv2d(%d -> %d)", c.InChannels, c.OutChannels) }

func (c *Conv2d) State() []Named {
	state := []Named{{"weight", c.Weight, c.WeightGrad}}
	if c.Bias != nil {
		state = append(state, Named{"bias", c.Bias, c.BiasGrad})
	}
	return state
}

// OutputSize is the output's height and width for an input of h x w.
func (c *Conv2d) OutputSize(h, w int) (int, int) {
	oh := (h+c.Pad[0]+c.Pad[1]-c.DilationH*(c.KernelH-1)-1)/c.StrideH + 1
	ow := (w+c.Pad[2]+c.Pad[3]-c.DilationW*(c.KernelW-1)-1)/c.StrideW + 1
	return oh, ow
}

func (c *Conv2d) geometry(x *Tensor) (n, h, w, oh, ow int) {
	checkInput(c.Label(), x, c.InChannels)
	n, _, h, w = x.Dims4()
	oh, ow = c.OutputSize(h, w)
	if h+c.Pad[0]+c.Pad[1]-c.DilationH*(c.KernelH-1)-1 < 0 || w+c.Pad[2]+c.Pad[3]-c.DilationW*(c.KernelW-1)-1 < 0 {
		panic(fmt.Errorf("%s: the kernel is larger than the padded input; got input of shape %s",
			c.Label(), ShapeString(x.Shape)))
	}
	return
}

func (c *Conv2d) Forward(x *Tensor) *Tensor {
	n, h, w, oh, ow := c.geometry(x)
	y := New(n, c.OutChannels, oh, ow)
	cg, og := c.InChannels/c.Groups, c.OutChannels/c.Groups
	k, l := cg*c.KernelH*c.KernelW, oh*ow
	workers := workerCount(n)
	cols := make([][]float64, workers)
	for i := range cols {
		cols[i] = make([]float64, k*l)
	}
	parallelFor(n, func(worker, b int) {
		col := cols[worker]
		for g := 0; g < c.Groups; g++ {
			c.im2col(col, x.Data[(b*c.InChannels+g*cg)*h*w:], cg, h, w, oh, ow)
			out := y.Data[(b*c.OutChannels+g*og)*l : (b*c.OutChannels+(g+1)*og)*l]
			matMulAdd(out, c.Weight.Data[g*og*k:(g+1)*og*k], col, og, k, l)
		}
		if c.Bias != nil {
			for o := 0; o < c.OutChannels; o++ {
				plane := y.Data[(b*c.OutChannels+o)*l : (b*c.OutChannels+o+1)*l]
				for i := range plane {
					plane[i] += c.Bias.Data[o]
				}
			}
		}
	})
	c.input = x
	return y
}

func (c *Conv2d) Backward(gradOut *Tensor) *Tensor {
	x := c.input
	n, h, w, oh, ow := c.geometry(x)
	checkGrad(c.Label(), gradOut, []int{n, c.OutChannels, oh, ow})
	dx := New(x.Shape...)
	cg, og := c.InChannels/c.Groups, c.OutChannels/c.Groups
	k, l := cg*c.KernelH*c.KernelW, oh*ow
	workers := workerCount(n)
	cols, dcols, dws := make([][]float64, workers), make([][]float64, workers), make([][]float64, workers)
	for i := 0; i < workers; i++ {
		cols[i], dcols[i], dws[i] = make([]float64, k*l), make([]float64, k*l), make([]float64, len(c.Weight.Data))
	}
	parallelFor(n, func(worker, b int) {
		col, dcol, dw := cols[worker], dcols[worker], dws[worker]
		for g := 0; g < c.Groups; g++ {
			gout := gradOut.Data[(b*c.OutChannels+g*og)*l : (b*c.OutChannels+(g+1)*og)*l]
			wg := c.Weight.Data[g*og*k : (g+1)*og*k]
			c.im2col(col, x.Data[(b*c.InChannels+g*cg)*h*w:], cg, h, w, oh, ow)
			matMulTransBAdd(dw[g*og*k:(g+1)*og*k], gout, col, og, l, k) // dW_g += g_g @ cols^T
			for i := range dcol {
				dcol[i] = 0
			}
			matMulTransAAdd(dcol, wg, gout, og, k, l) // dcols = W_g^T @ g_g
			c.col2imAdd(dx.Data[(b*c.InChannels+g*cg)*h*w:], dcol, cg, h, w, oh, ow)
		}
	})
	for _, dw := range dws {
		for i, v := range dw {
			c.WeightGrad.Data[i] += v
		}
	}
	if c.Bias != nil {
		for b := 0; b < n; b++ {
			for o := 0; o < c.OutChannels; o++ {
				s := 0.0
				for _, v := range gradOut.Data[(b*c.OutChannels+o)*l : (b*c.OutChannels+o+1)*l] {
					s += v
				}
				c.BiasGrad.Data[o] += s
			}
		}
	}
	return dx
}

// im2col fills col ((channels*K_h*K_w) x (oh*ow)) with the receptive fields of x (channels planes
// of h x w): row (ch, p, q), column (i, j) holds x[ch, i*s_h - top + p*d_h, j*s_w - left + q*d_w],
// or 0 where that falls in the padding.
func (c *Conv2d) im2col(col, x []float64, channels, h, w, oh, ow int) {
	row := 0
	for ch := 0; ch < channels; ch++ {
		plane := x[ch*h*w : (ch+1)*h*w]
		for p := 0; p < c.KernelH; p++ {
			for q := 0; q < c.KernelW; q++ {
				dst := col[row*oh*ow : (row+1)*oh*ow]
				for i := 0; i < oh; i++ {
					r := i*c.StrideH - c.Pad[0] + p*c.DilationH
					for j := 0; j < ow; j++ {
						s := j*c.StrideW - c.Pad[2] + q*c.DilationW
						if r >= 0 && r < h && s >= 0 && s < w {
							dst[i*ow+j] = plane[r*w+s]
						} else {
							dst[i*ow+j] = 0
						}
					}
				}
				row++
			}
		}
	}
}

// col2imAdd is im2col's adjoint: each entry of dcol is added to the input pixel it was read from.
func (c *Conv2d) col2imAdd(dx, dcol []float64, channels, h, w, oh, ow int) {
	row := 0
	for ch := 0; ch < channels; ch++ {
		plane := dx[ch*h*w : (ch+1)*h*w]
		for p := 0; p < c.KernelH; p++ {
			for q := 0; q < c.KernelW; q++ {
				src := dcol[row*oh*ow : (row+1)*oh*ow]
				for i := 0; i < oh; i++ {
					r := i*c.StrideH - c.Pad[0] + p*c.DilationH
					if r < 0 || r >= h {
						continue
					}
					for j := 0; j < ow; j++ {
						s := j*c.StrideW - c.Pad[2] + q*c.DilationW
						if s >= 0 && s < w {
							plane[r*w+s] += src[i*ow+j]
						}
					}
				}
				row++
			}
		}
	}
}
