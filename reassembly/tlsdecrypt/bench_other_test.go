//go:build !linux

package tlsdecrypt

import (
	"testing"
	"time"
)

func threadCPU() time.Duration { return 0 }

func lockThread(b *testing.B) func() { return func() {} }
