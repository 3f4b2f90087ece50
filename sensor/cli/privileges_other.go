//go:build !linux

package cli

// dropCapabilities does nothing where Linux capabilities do not exist.
func dropCapabilities() error { return nil }
