package event

import "github.com/apitap/apitap/analyzer/vocab"

// SensitiveTypes is the vocabulary of sensitive data types (package vocab).
var SensitiveTypes = vocab.SensitiveTypes

// SensitiveBit returns the bit of a type name in the Notes bit sets, or 0.
func SensitiveBit(name string) uint64 {
	for i, n := range SensitiveTypes {
		if n == name {
			return 1 << i
		}
	}
	return 0
}
