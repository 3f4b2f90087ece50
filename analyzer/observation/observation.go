package observation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
)

// Version is the encoding's version byte. A decoder refuses versions it
// does not know; a new field appends to the end under a new version.
const Version = 1

// MaxString bounds every string of a record (longer ones are cut when
// encoded and refused when decoded).
const MaxString = 512

// MaxRecord bounds an encoded record.
const MaxRecord = 16 << 10

// Login kinds (Record.LoginKind).
const (
	LoginNone    = 0
	LoginAttempt = 1 // a login with a password
	LoginProbe   = 2 // an account endpoint asked about a username
)

// Flag bits (Record.Flags).
const (
	FlagService         = 1 << iota // User is a service account (client-credentials token)
	FlagBasic                       // User comes from HTTP Basic credentials
	FlagSpoofed                     // a browser User-Agent without the headers browsers send
	FlagChecked                     // the claimed crawler's address is in its published ranges
	FlagHealth                      // a health check
	FlagPriv                        // an administrative path segment
	FlagAttackSucceeded             // an attack the answer shows succeeded
	FlagLoginOK                     // the login succeeded
	FlagConfirmed                   // the flow had a handshake and server answers
)

// Record is one transaction as the cross-flow detectors read it.
type Record struct {
	// ID identifies the observation (a hash of the sensor and the order
	// key): the correlator drops a record whose ID it already holds.
	ID     uint64
	At     int64  // capture time of the request, Unix nanoseconds
	Sensor string // the sensor's id
	// the flow order key of the sensor's stage two (position, flow's first
	// position, transaction number): orders records of one capture time
	Pos, Flow, Seq uint64

	Client, Peer netip.Addr // the client (resolved through trusted proxies) and the proxy, if any

	// actor keys: pseudonyms, never raw credentials
	User    string // as detections name users (e-mail addresses hashed)
	APIKey  string // "k:..." keyed hash
	Session string // "s:..." keyed hash
	Print   uint64 // HTTP fingerprint
	Shape   uint64 // header names, order and casing
	Agent   uint8  // client software class (the behaviour analyzer's)
	Crawler int8   // the configured crawler claimed, -1 none
	UA      string // User-Agent (bounded)

	Host, Method, Path string // Path is the template
	Endpoint           uint64 // host, method and template hash
	Object             uint64 // hash of the object id segment, 0 if none
	ObjectID           string // the object id if decimal, "" otherwise
	Owner              uint64 // owner field of a JSON answer (hash), 0 if none
	MassAssigned       string // a server-owned property name the write set and the answer echoed

	Status    int
	ReqBytes  int64
	RespBytes int64
	Latency   float64 // seconds

	Attacks   uint32 // attack class bits (vocab.AttackClasses)
	Sensitive uint64 // sensitive type bits in the answer (vocab.SensitiveTypes)

	LoginKind    uint8
	LoginUser    string // "u:..." keyed hash of the username tried
	LoginSession string // "s:..." keyed hash of the session a successful login set
	LoginForm    uint64 // the login body's field names (hash)
	LoginAnswer  uint64 // the class of the answer (hash)

	Flags uint16
}

// Has says whether flag f is set.
func (r *Record) Has(f uint16) bool { return r.Flags&f != 0 }

// Key is the Kafka key of the record: its actor. A principal (user, API
// key, session) when the request named one, the client address otherwise,
// so that every observation of one actor meets in one partition.
func (r *Record) Key() string {
	switch {
	case r.User != "":
		return "user:" + r.User
	case r.APIKey != "":
		return "api_key:" + r.APIKey
	case r.Session != "":
		return "session:" + r.Session
	case r.Client.IsValid():
		return "ip:" + r.Client.String()
	}
	return "ip:"
}

// MakeID is the record id of the observation at the order key of a sensor.
func MakeID(sensor string, pos, flow, seq uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(sensor))
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], pos)
	binary.LittleEndian.PutUint64(b[8:], flow)
	binary.LittleEndian.PutUint64(b[16:], seq)
	h.Write(b[:])
	return h.Sum64()
}

// Less orders records: capture time, then sensor and its order key.
func Less(a, b *Record) bool {
	if a.At != b.At {
		return a.At < b.At
	}
	if a.Sensor != b.Sensor {
		return a.Sensor < b.Sensor
	}
	if a.Pos != b.Pos {
		return a.Pos < b.Pos
	}
	if a.Flow != b.Flow {
		return a.Flow < b.Flow
	}
	return a.Seq < b.Seq
}

// Append appends the encoding of r to buf.
func Append(buf []byte, r *Record) []byte {
	buf = append(buf, Version)
	buf = binary.AppendUvarint(buf, r.ID)
	buf = binary.AppendVarint(buf, r.At)
	buf = appendString(buf, r.Sensor)
	buf = binary.AppendUvarint(buf, r.Pos)
	buf = binary.AppendUvarint(buf, r.Flow)
	buf = binary.AppendUvarint(buf, r.Seq)
	buf = appendAddr(buf, r.Client)
	buf = appendAddr(buf, r.Peer)
	buf = appendString(buf, r.User)
	buf = appendString(buf, r.APIKey)
	buf = appendString(buf, r.Session)
	buf = binary.AppendUvarint(buf, r.Print)
	buf = binary.AppendUvarint(buf, r.Shape)
	buf = append(buf, r.Agent, byte(r.Crawler))
	buf = appendString(buf, r.UA)
	buf = appendString(buf, r.Host)
	buf = appendString(buf, r.Method)
	buf = appendString(buf, r.Path)
	buf = binary.AppendUvarint(buf, r.Endpoint)
	buf = binary.AppendUvarint(buf, r.Object)
	buf = appendString(buf, r.ObjectID)
	buf = binary.AppendUvarint(buf, r.Owner)
	buf = appendString(buf, r.MassAssigned)
	buf = binary.AppendVarint(buf, int64(r.Status))
	buf = binary.AppendVarint(buf, r.ReqBytes)
	buf = binary.AppendVarint(buf, r.RespBytes)
	buf = binary.AppendUvarint(buf, math.Float64bits(r.Latency))
	buf = binary.AppendUvarint(buf, uint64(r.Attacks))
	buf = binary.AppendUvarint(buf, r.Sensitive)
	buf = append(buf, r.LoginKind)
	buf = appendString(buf, r.LoginUser)
	buf = appendString(buf, r.LoginSession)
	buf = binary.AppendUvarint(buf, r.LoginForm)
	buf = binary.AppendUvarint(buf, r.LoginAnswer)
	buf = binary.AppendUvarint(buf, uint64(r.Flags))
	return buf
}

func appendString(buf []byte, s string) []byte {
	if len(s) > MaxString {
		s = s[:MaxString]
	}
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendAddr(buf []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(buf, 0)
	case a.Is4():
		b := a.As4()
		return append(append(buf, 4), b[:]...)
	default:
		b := a.As16()
		return append(append(buf, 16), b[:]...)
	}
}

// Errors of Decode.
var (
	ErrVersion   = errors.New("observation: unknown version")
	ErrTruncated = errors.New("observation: truncated")
	ErrBounds    = errors.New("observation: value out of bounds")
)

// decoder reads an encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
	in  *Interner
}

// Interner shares the strings of decoded records (sensor, host, method,
// template, agent, identities repeat from record to record): a decoder
// with one allocates a string only the first time it meets it. It holds
// at most MaxInterned strings (it starts afresh when full). Not safe for
// concurrent use: one per decoding goroutine.
type Interner struct {
	m map[string]string
}

// MaxInterned bounds an Interner.
const MaxInterned = 1 << 14

func (in *Interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok { // no allocation for the look-up
		return s
	}
	if in.m == nil || len(in.m) >= MaxInterned {
		in.m = make(map[string]string, 256)
	}
	s := string(b)
	in.m[s] = s
	return s
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = ErrTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = ErrTruncated
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > MaxString {
		d.err = ErrBounds
		return ""
	}
	if uint64(len(d.b)) < n {
		d.err = ErrTruncated
		return ""
	}
	var s string
	switch {
	case n == 0:
	case d.in != nil:
		s = d.in.get(d.b[:n])
	default:
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

func (d *decoder) addr() netip.Addr {
	switch n := d.byte1(); n {
	case 0:
		return netip.Addr{}
	case 4, 16:
		if len(d.b) < int(n) {
			d.err = ErrTruncated
			return netip.Addr{}
		}
		a, _ := netip.AddrFromSlice(d.b[:n])
		d.b = d.b[n:]
		return a
	default:
		if d.err == nil {
			d.err = ErrBounds
		}
		return netip.Addr{}
	}
}

// Decode reads one record from b into r (every field is set). Trailing
// bytes are an error: one Kafka value is one record.
func Decode(b []byte, r *Record) error { return DecodeWith(b, r, nil) }

// DecodeWith is Decode sharing strings through in (nil: none).
func DecodeWith(b []byte, r *Record, in *Interner) error {
	if len(b) > MaxRecord {
		return ErrBounds
	}
	if len(b) == 0 {
		return ErrTruncated
	}
	if b[0] != Version {
		return fmt.Errorf("%w %d", ErrVersion, b[0])
	}
	d := decoder{b: b[1:], in: in}
	r.ID = d.uvarint()
	r.At = d.varint()
	r.Sensor = d.str()
	r.Pos, r.Flow, r.Seq = d.uvarint(), d.uvarint(), d.uvarint()
	r.Client, r.Peer = d.addr(), d.addr()
	r.User, r.APIKey, r.Session = d.str(), d.str(), d.str()
	r.Print, r.Shape = d.uvarint(), d.uvarint()
	r.Agent, r.Crawler = d.byte1(), int8(d.byte1())
	r.UA = d.str()
	r.Host, r.Method, r.Path = d.str(), d.str(), d.str()
	r.Endpoint, r.Object = d.uvarint(), d.uvarint()
	r.ObjectID = d.str()
	r.Owner = d.uvarint()
	r.MassAssigned = d.str()
	status := d.varint()
	r.ReqBytes, r.RespBytes = d.varint(), d.varint()
	r.Latency = math.Float64frombits(d.uvarint())
	attacks := d.uvarint()
	r.Sensitive = d.uvarint()
	r.LoginKind = d.byte1()
	r.LoginUser, r.LoginSession = d.str(), d.str()
	r.LoginForm, r.LoginAnswer = d.uvarint(), d.uvarint()
	flags := d.uvarint()
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBounds, len(d.b))
	}
	if status < 0 || status > 999 || attacks > math.MaxUint32 || flags > math.MaxUint16 || r.LoginKind > LoginProbe ||
		r.ReqBytes < 0 || r.RespBytes < 0 || math.IsNaN(r.Latency) || r.Latency < 0 || math.IsInf(r.Latency, 0) {
		return ErrBounds
	}
	r.Status, r.Attacks, r.Flags = int(status), uint32(attacks), uint16(flags)
	return nil
}
