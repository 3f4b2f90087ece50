//go:build !linux

package sensor

// DropCapabilities does nothing where Linux capabilities do not exist.
func DropCapabilities() error { return nil }

var uprobeCaps []int

func keepCapabilities([]int) error { return nil }
