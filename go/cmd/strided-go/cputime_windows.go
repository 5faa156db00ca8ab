package main

// cpuSeconds is not measured on Windows (no getrusage); the wall-clock time is printed alone.
func cpuSeconds() float64 { return 0 }
