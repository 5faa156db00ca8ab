//go:build !windows

package main

import "syscall"

// cpuSeconds is the CPU time this process has used: on a shared machine it says more about the
// work done than the wall-clock time does.
func cpuSeconds() float64 {
	var usage syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &usage) != nil {
		return 0
	}
	return float64(usage.Utime.Sec) + float64(usage.Utime.Usec)/1e6
}
