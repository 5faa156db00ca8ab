package cnn

// MinInt and MaxInt: Go 1.19, the oldest toolchain this module supports, has no min/max builtins.

// MinInt is the smaller of a and b.
func MinInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// MaxInt is the larger of a and b.
func MaxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
