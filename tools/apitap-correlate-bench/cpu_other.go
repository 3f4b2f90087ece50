//go:build !unix

package main

// cpuSelf is this process's CPU time: not measured here (0).
func cpuSelf() float64 { return 0 }
