package correlate

import (
	"encoding/binary"
	"errors"

	"github.com/apitap/apitap/analyzer/observation"
)

// window is an actor's value in the group table: its recent observations,
// oldest first, each as (id, capture time, encoded record).
type window struct {
	ids  []uint64
	ats  []int64
	recs [][]byte
}

// has says whether the window holds observation id.
func (w *window) has(id uint64) bool {
	for _, x := range w.ids {
		if x == id {
			return true
		}
	}
	return false
}

// add appends a record and drops what falls out of the bounds: older than
// span before the newest, beyond max entries.
func (w *window) add(id uint64, at int64, rec []byte, span int64, max int) {
	w.ids, w.ats, w.recs = append(w.ids, id), append(w.ats, at), append(w.recs, rec)
	newest := at
	for _, a := range w.ats {
		newest = maxI(newest, a)
	}
	drop := 0
	for drop < len(w.ats) && (len(w.ats)-drop > max || newest-w.ats[drop] > span) {
		drop++
	}
	if drop > 0 {
		w.ids, w.ats, w.recs = w.ids[drop:], w.ats[drop:], w.recs[drop:]
	}
}

func maxI(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// windowCodec is the goka codec of the table.
type windowCodec struct{}

const windowVersion = 1

func (windowCodec) Encode(v any) ([]byte, error) {
	w, ok := v.(*window)
	if !ok {
		return nil, errors.New("correlate: table value is not a window")
	}
	n := 1 + binary.MaxVarintLen64
	for _, r := range w.recs {
		n += 2*binary.MaxVarintLen64 + 8 + len(r)
	}
	b := make([]byte, 0, n)
	b = append(b, windowVersion)
	b = binary.AppendUvarint(b, uint64(len(w.recs)))
	for i, r := range w.recs {
		b = binary.LittleEndian.AppendUint64(b, w.ids[i])
		b = binary.AppendVarint(b, w.ats[i])
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	return b, nil
}

var errWindow = errors.New("correlate: malformed table value")

func (windowCodec) Decode(b []byte) (any, error) {
	if len(b) < 1 || b[0] != windowVersion {
		return nil, errWindow
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errWindow
	}
	b = b[k:]
	w := &window{ids: make([]uint64, 0, n), ats: make([]int64, 0, n), recs: make([][]byte, 0, n)}
	for range n {
		if len(b) < 8 {
			return nil, errWindow
		}
		id := binary.LittleEndian.Uint64(b)
		b = b[8:]
		at, k := binary.Varint(b)
		if k <= 0 {
			return nil, errWindow
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > observation.MaxRecord || l > uint64(len(b)-k) {
			return nil, errWindow
		}
		b = b[k:]
		w.ids, w.ats, w.recs = append(w.ids, id), append(w.ats, at), append(w.recs, b[:l:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, errWindow
	}
	return w, nil
}

// bytesCodec passes values through (the observations' own encoding).
type bytesCodec struct{}

func (bytesCodec) Encode(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, errors.New("correlate: value is not bytes")
	}
	return b, nil
}

func (bytesCodec) Decode(b []byte) (any, error) { return b, nil }
