package correlate

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/apitap/apitap/analyzer/observation"
)

// marks is an actor's value in the group table: per sensor, the order key
// of the latest observation of the actor processed. A sensor publishes an
// actor's observations in its stage two's order, into one partition, so
// an observation at or before its sensor's mark is a redelivery. The value
// stays small whatever the actor's volume (the observations themselves
// are replayed from the input topic when a partition moves, see replay).
//
// With the order key goes the input offset of that observation. A
// duplicate written by a producer's retry comes after the original in the
// partition: at or before the mark and at a later offset, it is dropped.
// An observation at or before the mark but at an offset not after the
// mark's is one the consumer delivers again after a move: the member that
// died processed it but had not committed its offset, so the new owner's
// replay (which stops at the committed offset) does not hold it, and it
// is processed.
type marks struct {
	sensors []string
	keys    [][3]uint64 // Pos, Flow, Seq
	offs    []int64     // input offset of the observation of keys; -1: unknown (a version 2 value)
}

// seen says whether r, at input offset off, is a duplicate: at or before
// its sensor's mark, and after the mark's offset.
func (m *marks) seen(r *observation.Record, off int64) bool {
	for i, s := range m.sensors {
		if s == r.Sensor {
			return !before(m.keys[i], [3]uint64{r.Pos, r.Flow, r.Seq}) && (m.offs[i] < 0 || off > m.offs[i])
		}
	}
	return false
}

// set moves r's sensor's mark to r at offset off; true when the sensor is
// new.
func (m *marks) set(r *observation.Record, off int64) bool {
	k := [3]uint64{r.Pos, r.Flow, r.Seq}
	for i, s := range m.sensors {
		if s == r.Sensor {
			m.keys[i], m.offs[i] = k, off
			return false
		}
	}
	if len(m.sensors) >= maxSensorsPerActor { // bounded: forget the oldest sensor
		m.sensors, m.keys, m.offs = m.sensors[1:], m.keys[1:], m.offs[1:]
	}
	m.sensors, m.keys, m.offs = append(m.sensors, r.Sensor), append(m.keys, k), append(m.offs, off)
	return true
}

// maxSensorsPerActor bounds a table value.
const maxSensorsPerActor = 64

// before says whether order key a is before b.
func before(a, b [3]uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// marksCodec is the goka codec of the table.
type marksCodec struct{}

// marksVersion 3 adds the offsets; values of version 2 still decode.
const marksVersion = 3

func (marksCodec) Encode(v any) ([]byte, error) {
	m, ok := v.(*marks)
	if !ok {
		return nil, errors.New("correlate: table value is not marks")
	}
	b := make([]byte, 0, 2+len(m.sensors)*40)
	b = append(b, marksVersion)
	b = binary.AppendUvarint(b, uint64(len(m.sensors)))
	for i, s := range m.sensors {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
		for _, x := range m.keys[i] {
			b = binary.AppendUvarint(b, x)
		}
		b = binary.AppendUvarint(b, uint64(m.offs[i]+1)) // 0: unknown
	}
	return b, nil
}

var errMarks = errors.New("correlate: malformed table value")

func (marksCodec) Decode(b []byte) (any, error) {
	if len(b) < 1 || b[0] != marksVersion && b[0] != 2 {
		return nil, errMarks
	}
	version := b[0]
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxSensorsPerActor {
		return nil, errMarks
	}
	b = b[k:]
	m := &marks{sensors: make([]string, 0, n), keys: make([][3]uint64, 0, n), offs: make([]int64, 0, n)}
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > observation.MaxString || l > uint64(len(b)-k) {
			return nil, errMarks
		}
		b = b[k:]
		s := string(b[:l])
		b = b[l:]
		var key [3]uint64
		for j := range key {
			x, k := binary.Uvarint(b)
			if k <= 0 {
				return nil, errMarks
			}
			key[j], b = x, b[k:]
		}
		off := int64(-1)
		if version >= 3 {
			x, k := binary.Uvarint(b)
			if k <= 0 || x > math.MaxInt64 {
				return nil, errMarks
			}
			off, b = int64(x)-1, b[k:]
		}
		m.sensors, m.keys, m.offs = append(m.sensors, s), append(m.keys, key), append(m.offs, off)
	}
	if len(b) != 0 {
		return nil, errMarks
	}
	return m, nil
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
