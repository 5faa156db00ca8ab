package cnn

import (
	"runtime"
	"sync"
)

// The three matrix products a convolution and a linear layer need, on row-major slices. The loop
// order keeps the innermost loop running along contiguous memory (j in c[i, :] += a[i, p] * b[p, :]),
// which in Go is several times faster than the textbook i, j, p order.

// matMulAdd: c (m x n) += a (m x k) @ b (k x n).
func matMulAdd(c, a, b []float64, m, k, n int) {
	for i := 0; i < m; i++ {
		ci := c[i*n : (i+1)*n]
		for p := 0; p < k; p++ {
			aip := a[i*k+p]
			if aip == 0 {
				continue
			}
			bp := b[p*n : (p+1)*n]
			for j, v := range bp {
				ci[j] += aip * v
			}
		}
	}
}

// matMulTransBAdd: c (m x n) += a (m x k) @ b^T, b being (n x k).
func matMulTransBAdd(c, a, b []float64, m, k, n int) {
	for i := 0; i < m; i++ {
		ai := a[i*k : (i+1)*k]
		for j := 0; j < n; j++ {
			bj := b[j*k : (j+1)*k]
			s := 0.0
			for p, v := range ai {
				s += v * bj[p]
			}
			c[i*n+j] += s
		}
	}
}

// matMulTransAAdd: c (m x n) += a^T @ b, a being (k x m) and b (k x n).
func matMulTransAAdd(c, a, b []float64, k, m, n int) {
	for p := 0; p < k; p++ {
		bp := b[p*n : (p+1)*n]
		for i := 0; i < m; i++ {
			api := a[p*m+i]
			if api == 0 {
				continue
			}
			ci := c[i*n : (i+1)*n]
			for j, v := range bp {
				ci[j] += api * v
			}
		}
	}
}

// parallelFor runs body(worker, i) for i in [0, n) on up to GOMAXPROCS goroutines; worker is in
// [0, workers) and lets a body keep per-goroutine buffers (e.g. a partial weight gradient).
func parallelFor(n int, body func(worker, i int)) int {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			body(0, i)
		}
		return 1
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := range next {
				body(w, i)
			}
		}(w)
	}
	wg.Wait()
	return workers
}

// workerCount is how many workers parallelFor(n, ...) uses.
func workerCount(n int) int {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers < 1 {
		workers = 1
	}
	return workers
}
