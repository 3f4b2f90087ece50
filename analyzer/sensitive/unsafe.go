package sensitive

import "unsafe"

// bytesOf views a string as bytes without copying, for scanning only: the
// scanner never writes to its input.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
