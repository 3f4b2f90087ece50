package http2

import (
	"errors"

	"golang.org/x/net/http2/hpack"

	"github.com/apitap/apitap/reassembly/http1"
)

// HPACK (RFC 7541) header block decoding that survives a late join.
//
// golang.org/x/net/http2/hpack decodes for an endpoint that saw the whole
// connection: a reference to a dynamic-table entry it does not hold fails
// the block, and with it every later one. A mirror that starts inside a
// connection has lost the table, so this decoder keeps its own: entries
// added after the join are exact (indices count from the newest entry),
// references past them point to entries from before the join and resolve
// to "unknown" (Field.Known says which halves are known), and decoding goes
// on. It uses x/net's Huffman decoder for string literals.

// staticTable is RFC 7541 Appendix A (index 1..61).
var staticTable = [...][2]string{
	{":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"}, {":path", "/index.html"},
	{":scheme", "http"}, {":scheme", "https"}, {":status", "200"}, {":status", "204"}, {":status", "206"},
	{":status", "304"}, {":status", "400"}, {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
	{"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""},
	{"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""}, {"authorization", ""},
	{"cache-control", ""}, {"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""},
	{"content-length", ""}, {"content-location", ""}, {"content-range", ""}, {"content-type", ""},
	{"cookie", ""}, {"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""},
	{"if-match", ""}, {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""},
	{"if-unmodified-since", ""}, {"last-modified", ""}, {"link", ""}, {"location", ""}, {"max-forwards", ""},
	{"proxy-authenticate", ""}, {"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""},
	{"retry-after", ""}, {"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""},
	{"transfer-encoding", ""}, {"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
}

const staticLen = len(staticTable)

// staticIDs are the header IDs of the static table's names.
var staticIDs = func() (ids [staticLen]http1.HeaderID) {
	for i, e := range staticTable {
		ids[i] = lookupName(e[0])
	}
	return
}()

// Known bits of a decoded field: which halves resolved.
const (
	NameKnown  uint8 = 1 << iota // the name resolved
	ValueKnown                   // the value resolved
	bothKnown  = NameKnown | ValueKnown
)

// Field is one decoded header field. Name and Value are "" where Known
// lacks the bit.
type Field struct {
	Name, Value string
	Known       uint8
	// Sensitive is the never-indexed representation (RFC 7541 6.2.3).
	Sensitive bool
	// from is the serial number (from 1) of the dynamic-table entry the
	// field or its name came from, 0 for static and literal ones.
	from uint64
	// id is the name's http1.HeaderID when a table gave it (0: look up).
	id http1.HeaderID
}

// entry is one dynamic-table entry. kv holds name and value in one string
// (one allocation per insertion); name is kv[:nlen].
type entry struct {
	kv    string
	nlen  int
	known uint8
	id    http1.HeaderID // of the name, found once at insertion
	seq   uint64         // serial number of the insertion
}

func (e *entry) name() string  { return e.kv[:e.nlen] }
func (e *entry) value() string { return e.kv[e.nlen:] }

// size is the entry's size as RFC 7541 4.1 counts it (32 + name + value);
// for an entry with an unknown half it is a lower bound.
func (e *entry) size() uint32 { return uint32(len(e.kv)) + 32 }

// Bounds of one decoder.
const (
	defaultTableSize = 4096     // SETTINGS_HEADER_TABLE_SIZE initial value
	maxTableSize     = 64 << 10 // larger size updates are capped here (counted)
)

// Errors of a header block. A block with an error stops decoding at the
// damage; the table is then no longer trusted (see decoder.desync).
var (
	errTruncated = errors.New("hpack: truncated block")
	errIndex     = errors.New("hpack: index 0 or beyond the table")
	errHuffman   = errors.New("hpack: bad Huffman string")
	errTooLarge  = errors.New("hpack: integer too large")
)

// decoder is the HPACK state of one direction of a connection.
type decoder struct {
	ring []entry // newest at ring[(next-1)&(len-1)]; len is a power of two
	next int
	seq  uint64 // insertions so far
	n    int    // entries held
	size uint32 // sum of their sizes
	max  uint32 // the encoder's table size, from size updates (initially 4096)
	// partial: entries from before the join (or before a desync) may sit
	// behind the known ones; a reference past the known entries is to one
	// of them (unknown), not an error.
	partial bool
	// Counters (the Conn adds them to its Stats).
	fields, unresolved uint64
	capped             uint64 // size updates above maxTableSize
	refs               []litRef
}

func (d *decoder) reset(partial bool) {
	clear(d.ring)
	d.next, d.n, d.size, d.max, d.partial = 0, 0, 0, defaultTableSize, partial
}

// desync forgets the table after bytes of a header block were lost: what
// follows may refer to entries added in the lost part, so every entry now
// held becomes one "from before the join".
func (d *decoder) desync() {
	d.reset(true)
}

// at returns dynamic entry i (1 = newest), or nil past the known entries.
func (d *decoder) at(i int) *entry {
	if i < 1 || i > d.n {
		return nil
	}
	return &d.ring[(d.next-i)&(len(d.ring)-1)]
}

// evictTo drops the oldest entries until the table fits in max.
func (d *decoder) evictTo(max uint32) {
	for d.n > 0 && d.size > max {
		e := &d.ring[(d.next-d.n)&(len(d.ring)-1)]
		d.size -= e.size()
		*e = entry{}
		d.n--
	}
}

// insert adds an entry (RFC 7541 4.4): older ones are evicted to make room;
// an entry larger than the table empties it and is not added.
func (d *decoder) insert(e entry) {
	s := e.size()
	if s > d.max {
		d.evictTo(0)
		return
	}
	d.evictTo(d.max - s)
	if d.n == len(d.ring) {
		d.grow()
	}
	d.seq++
	e.seq = d.seq
	d.ring[d.next&(len(d.ring)-1)] = e
	d.next++
	d.n++
	d.size += s
}

// grow doubles the ring (entries are at least 32 bytes, so a table of
// maxTableSize holds at most 2048).
func (d *decoder) grow() {
	n := max(2*len(d.ring), 16)
	ring := make([]entry, n)
	for i := 1; i <= d.n; i++ {
		ring[(d.n-i)&(n-1)] = *d.at(i)
	}
	d.ring, d.next = ring, d.n
}

// setMax applies a dynamic table size update.
func (d *decoder) setMax(v uint64) {
	if v > maxTableSize {
		d.capped++
		v = maxTableSize
	}
	d.max = uint32(v)
	d.evictTo(d.max)
	if v == 0 {
		// the encoder emptied its table: nothing from before the join is
		// left to refer to
		d.partial = false
	}
}

// lookup resolves index i of either table.
func (d *decoder) lookup(i uint64, f *Field) error {
	switch {
	case i == 0:
		return errIndex
	case i <= uint64(staticLen):
		s := &staticTable[i-1]
		f.Name, f.Value, f.Known, f.id = s[0], s[1], bothKnown, staticIDs[i-1]
		return nil
	}
	if i-uint64(staticLen) <= uint64(d.n) {
		e := d.at(int(i) - staticLen)
		f.Name, f.Value, f.Known, f.from, f.id = e.name(), e.value(), e.known, e.seq, e.id
		return nil
	}
	if d.partial {
		return nil // an entry from before the join: unknown
	}
	return errIndex
}

// appender is an io.Writer appending to a byte slice (Huffman output).
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// litRef locates the strings of a literal field in the scratch buffer
// (nOff < 0: the name came from a table).
type litRef struct {
	i          int
	nOff, nEnd int
	vOff, vEnd int
}

// block decodes one header block into fields (appended to out[:0]), at
// most max of them (the rest is decoded for the table, not kept; max <= 0:
// no bound). Literal strings are decoded into scratch and converted to one
// string at the end (one allocation per block); entries added to the
// table get a string of their own. After an error it returns the fields
// decoded before the damage.
func (d *decoder) block(b []byte, out []Field, scratch *appender, max int) ([]Field, error) {
	out = out[:0]
	scratch.b = scratch.b[:0]
	d.refs = d.refs[:0]
	var err error
	for len(b) > 0 && err == nil {
		c := b[0]
		switch {
		case c&0x80 != 0: // indexed field
			var i uint64
			if i, b, err = readInt(b, 7); err != nil {
				break
			}
			var f Field
			if err = d.lookup(i, &f); err == nil {
				out = d.keep(out, f, max)
			}
		case c&0xe0 == 0x20: // dynamic table size update
			var v uint64
			if v, b, err = readInt(b, 5); err == nil {
				d.setMax(v)
			}
		default: // literal: with incremental indexing (01), without (0000) or never indexed (0001)
			out, b, err = d.literal(b, out, scratch, max)
		}
	}
	if len(d.refs) > 0 {
		s := string(scratch.b)
		for _, r := range d.refs {
			f := &out[r.i]
			if r.nOff >= 0 {
				f.Name = s[r.nOff:r.nEnd]
			}
			f.Value = s[r.vOff:r.vEnd]
		}
	}
	for i := range out {
		d.fields++
		if out[i].Known != bothKnown {
			d.unresolved++
		}
	}
	return out, err
}

// keep appends f to out when there is room (counting it either way).
func (d *decoder) keep(out []Field, f Field, max int) []Field {
	if max > 0 && len(out) >= max {
		d.fields++
		if f.Known != bothKnown {
			d.unresolved++
		}
		return out
	}
	return append(out, f)
}

// literal decodes one literal field representation at the start of b.
func (d *decoder) literal(b []byte, out []Field, scratch *appender, max int) ([]Field, []byte, error) {
	c := b[0]
	indexing := c&0xc0 == 0x40
	prefix := uint8(4)
	if indexing {
		prefix = 6
	}
	f := Field{Sensitive: c&0xf0 == 0x10}
	i, b, err := readInt(b, prefix)
	if err != nil {
		return out, b, err
	}
	r := litRef{i: len(out), nOff: -1}
	start := len(scratch.b)
	if i > 0 {
		if err = d.lookup(i, &f); err != nil {
			return out, b, err
		}
		f.Value, f.Known = "", f.Known&NameKnown
	} else {
		r.nOff = len(scratch.b)
		if b, err = readString(b, scratch); err != nil {
			return out, b, err
		}
		r.nEnd = len(scratch.b)
		f.Known = NameKnown
	}
	r.vOff = len(scratch.b)
	if b, err = readString(b, scratch); err != nil {
		return out, b, err
	}
	r.vEnd = len(scratch.b)
	f.Known |= ValueKnown
	if !indexing {
		if max > 0 && len(out) >= max {
			scratch.b = scratch.b[:start] // not kept: its strings neither
			return d.keep(out, f, max), b, nil
		}
		d.refs = append(d.refs, r)
		return append(out, f), b, nil
	}
	// an entry gets its own string, name and value together
	var e entry
	if r.nOff >= 0 {
		e = entry{kv: string(scratch.b[r.nOff:r.vEnd]), nlen: r.nEnd - r.nOff, known: f.Known}
	} else {
		e = entry{kv: f.Name + string(scratch.b[r.vOff:r.vEnd]), nlen: len(f.Name), known: f.Known}
	}
	scratch.b = scratch.b[:start]
	f.Name, f.Value = e.name(), e.value()
	if f.id == 0 && e.known&NameKnown != 0 {
		f.id = lookupName(f.Name)
	}
	e.id = f.id
	d.insert(e)
	f.from = 0 // a literal: resolvable whatever its name's source
	return d.keep(out, f, max), b, nil
}

// readInt reads an HPACK integer with an n-bit prefix (RFC 7541 5.1).
func readInt(b []byte, n uint8) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, b, errTruncated
	}
	mask := uint64(1)<<n - 1
	v := uint64(b[0]) & mask
	b = b[1:]
	if v < mask {
		return v, b, nil
	}
	for m := uint(0); ; m += 7 {
		if len(b) == 0 {
			return 0, b, errTruncated
		}
		c := b[0]
		b = b[1:]
		v += uint64(c&0x7f) << m
		if c&0x80 == 0 {
			if v >= 1<<32 {
				return 0, b, errTooLarge
			}
			return v, b, nil
		}
		if m >= 28 {
			return 0, b, errTooLarge
		}
	}
}

// readString reads a string literal (RFC 7541 5.2) into scratch.
func readString(b []byte, scratch *appender) ([]byte, error) {
	if len(b) == 0 {
		return b, errTruncated
	}
	huff := b[0]&0x80 != 0
	n, b, err := readInt(b, 7)
	if err != nil {
		return b, err
	}
	if uint64(len(b)) < n {
		return b, errTruncated
	}
	s := b[:n]
	if !huff {
		scratch.b = append(scratch.b, s...)
		return b[n:], nil
	}
	if _, err := hpack.HuffmanDecode(scratch, s); err != nil {
		return b, errHuffman
	}
	return b[n:], nil
}
