package attack

import "unsafe"

// view looks at request body bytes as a string without copying them.
// Only for use while the transaction is analysed: the body is the
// reassembly's buffer, which is reused after. What a view leaves the
// transaction in (a hit's name and value) is copied by worker.add.
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
