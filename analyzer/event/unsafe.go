package event

import "unsafe"

// unsafeString views b as a string without copying; only for immediate,
// read-only use (AppendString copies what it keeps).
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
