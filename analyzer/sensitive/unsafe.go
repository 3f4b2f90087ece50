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

// stringOf views b as a string without copying; b must not change while
// the string is in use (a Finding's Field lives only during the callback).
func stringOf(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
