package tlsdecrypt

import (
	"crypto/cipher"
	"encoding/binary"
	"time"
)

// Side is one end of a connection.
type Side uint8

const (
	Client Side = 0 // the side that sent the ClientHello
	Server Side = 1
)

// Output receives what a Conn decrypted. b is valid only during the call.
type Output interface {
	// Plain is application data of side s, in order; first and last are
	// the capture times of the record's first and last bytes.
	Plain(s Side, b []byte, first, last time.Time)
	// Gap says that side s lost application data (a gap in the TCP
	// stream, or records that could not be decrypted).
	Gap(s Side, ts time.Time)
	// CloseDir says that side s has finished sending.
	CloseDir(s Side, ts time.Time)
}

// Limits bound what a Conn holds while it waits for secrets. Zero fields
// take the defaults.
type Limits struct {
	// KeyWait is how long (capture time, from the first record that needs
	// them) a connection waits for secrets the key log does not hold yet.
	// Default 10s.
	KeyWait time.Duration
	// MaxHeldRecords and MaxHeldBytes bound the records one connection
	// holds while it waits. Defaults 64 and 1 MiB.
	MaxHeldRecords int
	MaxHeldBytes   int
	// MaxHeldTotal bounds the bytes held by all the Conns of one Env.
	// Default 64 MiB.
	MaxHeldTotal int
}

// WithDefaults fills zero fields.
func (l Limits) WithDefaults() Limits {
	if l.KeyWait == 0 {
		l.KeyWait = 10 * time.Second
	}
	if l.MaxHeldRecords == 0 {
		l.MaxHeldRecords = 64
	}
	if l.MaxHeldBytes == 0 {
		l.MaxHeldBytes = 1 << 20
	}
	if l.MaxHeldTotal == 0 {
		l.MaxHeldTotal = 64 << 20
	}
	return l
}

// Env is what the Conns of one owner (a reassembly worker) share: the key
// log, the limits, the counters, the bytes held and a scratch buffer.
type Env struct {
	Keys   *KeyLog
	Limits Limits // set with defaults by the owner (Limits.WithDefaults)
	Stats  *Stats
	held   int
	plain  []byte
}

// Record framing.
const (
	recordHeader = 5
	maxPlain     = 1 << 14
	maxCipher12  = maxPlain + 2048
	maxCipher13  = maxPlain + 256
	tagLen       = 16
)

// Record content types.
const (
	typeCCS       = 20
	typeAlert     = 21
	typeHandshake = 22
	typeAppData   = 23
)

// Conn states.
const (
	stActive  uint8 = iota // records are framed and decrypted as they come
	stWaiting              // records are held until the secrets (or the ServerHello) come
	stOff                  // given up, unsupported or done: bytes are ignored
)

// side is the state of one direction.
type side struct {
	buf      []byte // a record not complete yet
	bufFirst time.Time
	enc      bool // its records are protected
	app      bool // TLS 1.3: the application epoch (else the handshake one)
	trial    bool // TLS 1.3 without handshake secrets: handshake records are skipped until the application key opens one
	aead     cipher.AEAD
	iv       [12]byte
	seq      uint64
	secret   []byte // TLS 1.3: the current traffic secret
	hs       hsParser
	lost     bool // after a gap: hunting for the next record
	hunted   int  // bytes thrown away while hunting
	fails    int  // records in a row that failed authentication
	finished bool // TLS 1.3: its Finished ended the last record
	update   bool // TLS 1.3: a KeyUpdate ended the last record
	held     int  // records of this side held
	nonce    [12]byte
	aad      [13]byte // (kept here: passed to the AEAD, a local would escape)
}

// heldRec is a record (or the end of a side, n < 0) held while waiting.
type heldRec struct {
	off, n      int
	s           Side
	first, last time.Time
}

// Conn decrypts one TLS connection. Create it with NewConn or reuse one
// with Reset; feed both sides' bytes from the first (the ClientHello on).
type Conn struct {
	env     *Env
	out     Output
	st      uint8
	version uint16
	suite   *suite
	cr, sr  [32]byte
	haveCR  bool
	haveSH  bool
	keyed   bool
	plain   bool // application data was decrypted
	alpn    string
	sec     Secrets
	// TLS 1.2 resumption (keylog.go): what the client offered, what the
	// server answered and issued
	sid, ticket [32]byte // hashed (resumeKey)
	hasSID      bool
	hasTicket   bool
	resumed     bool // the server echoed the offered session id
	srvSID      [32]byte
	hasSrvSID   bool
	newTicket   [32]byte
	hasNew      bool
	sides       [2]side
	held        []byte
	holds       []heldRec
	waitAt      time.Time
	needSH      bool  // waiting for the ServerHello
	want        uint8 // waiting for these secrets (either HasClientHS or HasClientApp for a side's TLS 1.3 handshake)
	alt         uint8 // ... or these
}

// NewConn returns a Conn decrypting into out.
func NewConn(env *Env, out Output) *Conn {
	c := &Conn{}
	c.Reset(env, out)
	return c
}

// Reset makes c ready for a new connection, keeping its buffers; the
// previous connection ends without further output (see Close).
func (c *Conn) Reset(env *Env, out Output) {
	if c.env != nil {
		c.dropHeld(false)
	}
	b0, b1, held := c.sides[0].buf[:0], c.sides[1].buf[:0], c.held[:0]
	h0, h1, holds := c.sides[0].hs.body[:0], c.sides[1].hs.body[:0], c.holds[:0]
	*c = Conn{env: env, out: out, held: held, holds: holds}
	c.sides[0].buf, c.sides[1].buf = b0, b1
	c.sides[0].hs.body, c.sides[1].hs.body = h0, h1
	env.Stats.N[CtrSessions]++
}

// Version is the negotiated TLS version (0 before the ServerHello).
func (c *Conn) Version() uint16 { return c.version }

// Suite is the negotiated cipher suite's name ("" before the ServerHello).
func (c *Conn) Suite() string {
	if c.suite == nil {
		return ""
	}
	return c.suite.name
}

// ALPN is the application protocol the server selected ("" when none, or
// not known yet: TLS 1.3 says it in the encrypted extensions).
func (c *Conn) ALPN() string { return c.alpn }

// Decrypting reports whether c still processes bytes (it was not given up
// or found unsupported).
func (c *Conn) Decrypting() bool { return c.st != stOff }

// Waiting reports whether c holds records until secrets come.
func (c *Conn) Waiting() bool { return c.st == stWaiting }

// Data feeds in-order bytes sent by side s; first and last are the capture
// times of their first and last bytes.
func (c *Conn) Data(s Side, b []byte, first, last time.Time) {
	d := &c.sides[s]
	for len(b) > 0 && c.st != stOff {
		if d.lost {
			b = c.hunt(s, b, first, last)
			continue
		}
		if len(d.buf) == 0 && len(b) >= recordHeader {
			n, ok := c.recordLen(b)
			if !ok {
				c.giveUp(CtrMalformed)
				return
			}
			if len(b) >= recordHeader+n {
				c.record(s, b[:recordHeader+n], first, last)
				b = b[recordHeader+n:]
				continue
			}
		}
		if len(d.buf) == 0 {
			d.bufFirst = first
		}
		need := recordHeader - len(d.buf)
		if need <= 0 {
			n, _ := c.recordLen(d.buf)
			need = recordHeader + n - len(d.buf)
		}
		k := min(need, len(b))
		d.buf = append(d.buf, b[:k]...)
		b = b[k:]
		if len(d.buf) == recordHeader {
			if _, ok := c.recordLen(d.buf); !ok {
				c.giveUp(CtrMalformed)
				return
			}
		}
		if len(d.buf) > recordHeader {
			if n, _ := c.recordLen(d.buf); len(d.buf) == recordHeader+n {
				c.record(s, d.buf, d.bufFirst, last)
				d.buf = d.buf[:0]
			}
		}
	}
}

// recordLen checks a record header and returns its length.
func (c *Conn) recordLen(h []byte) (int, bool) {
	n := int(h[3])<<8 | int(h[4])
	max := maxCipher12
	if c.version == VersionTLS13 {
		max = maxCipher13
	}
	return n, h[0] >= typeCCS && h[0] <= typeAppData && h[1] == 3 && h[2] <= 4 && n > 0 && n <= max
}

// Gap says that side s lost bytes: its encrypted records are hunted for
// again; lost bytes before the records are encrypted end the session.
func (c *Conn) Gap(s Side, ts time.Time) {
	if c.st == stOff {
		return
	}
	d := &c.sides[s]
	if c.st == stWaiting || !d.enc || d.lost {
		if !d.lost {
			c.giveUp(CtrLost)
		}
		return
	}
	d.buf = d.buf[:0]
	d.lost, d.hunted = true, 0
	c.out.Gap(s, ts)
}

// CloseDir says that side s finished sending.
func (c *Conn) CloseDir(s Side, ts time.Time) {
	if c.st == stWaiting {
		c.hold(s, nil, ts, ts)
		return
	}
	if c.st != stOff {
		c.out.CloseDir(s, ts)
	}
}

// Tick lets a waiting Conn look for its secrets again and give up past
// KeyWait (now is capture time).
func (c *Conn) Tick(now time.Time) {
	if c.st != stWaiting {
		return
	}
	if c.ready() {
		c.release()
	}
	if c.st == stWaiting && now.Sub(c.waitAt) > c.env.Limits.KeyWait {
		c.dropHeld(true)
		c.env.Stats.N[CtrNoKeys]++
		c.st = stOff
	}
}

// Close ends the connection: held records are released if their secrets
// came, given up (and counted) otherwise.
func (c *Conn) Close() {
	if c.st == stWaiting {
		if c.ready() {
			c.release()
		}
		if c.st == stWaiting {
			c.dropHeld(true)
			c.env.Stats.N[CtrNoKeys]++
		}
	}
	c.st = stOff
}

// giveUp stops decrypting the connection, counting why.
func (c *Conn) giveUp(why Counter) {
	if c.st == stOff {
		return
	}
	c.dropHeld(true)
	c.env.Stats.N[why]++
	c.st = stOff
}

// dropHeld forgets the held records (counted when count is set).
func (c *Conn) dropHeld(count bool) {
	if count {
		for _, h := range c.holds {
			if h.n >= 0 {
				c.env.Stats.N[CtrHeldGivenUp]++
			}
		}
	}
	c.env.held -= len(c.held)
	c.held, c.holds = c.held[:0], c.holds[:0]
	c.sides[0].held, c.sides[1].held = 0, 0
	if cap(c.held) > 64<<10 {
		c.held = nil
	}
}

// record handles one complete record of side s.
func (c *Conn) record(s Side, rec []byte, first, last time.Time) {
	if c.st == stWaiting {
		// a plaintext record of a side with nothing held produces no
		// output: it may be the ServerHello being waited for
		if c.sides[s].held > 0 || c.protected(s, rec[0]) || !c.process(s, rec, first, last) {
			c.hold(s, rec, first, last)
		}
		if c.st == stWaiting && c.ready() {
			c.release()
		}
		return
	}
	if !c.process(s, rec, first, last) {
		c.wait(first)
		c.hold(s, rec, first, last)
	}
}

// protected reports whether a record of type typ from side s is encrypted.
func (c *Conn) protected(s Side, typ byte) bool {
	return c.sides[s].enc || typ == typeAppData
}

// wait starts holding records until the secrets come.
func (c *Conn) wait(at time.Time) {
	if c.st == stWaiting {
		return
	}
	c.st, c.waitAt = stWaiting, at
	c.env.Stats.N[CtrKeyWaits]++
}

// hold keeps a record (nil: the end of side s) while waiting.
func (c *Conn) hold(s Side, rec []byte, first, last time.Time) {
	l := &c.env.Limits
	if len(c.holds) >= l.MaxHeldRecords || len(c.held)+len(rec) > l.MaxHeldBytes || c.env.held+len(rec) > l.MaxHeldTotal {
		c.giveUp(CtrNoKeys)
		return
	}
	n := len(rec)
	if rec == nil {
		n = -1
	}
	c.holds = append(c.holds, heldRec{off: len(c.held), n: n, s: s, first: first, last: last})
	c.held = append(c.held, rec...)
	c.env.held += len(rec)
	c.sides[s].held++
}

// ready reports whether what the connection waits for is there.
func (c *Conn) ready() bool {
	if c.needSH && !c.haveSH {
		return false
	}
	if c.want == 0 {
		return true
	}
	if c.want == HasMaster && c.resumedSecret() {
		return true
	}
	return c.env.Keys.Lookup(&c.cr, c.want, &c.sec) || c.alt != 0 && c.env.Keys.Lookup(&c.cr, c.alt, &c.sec)
}

// release processes the held records in order, until one still waits.
func (c *Conn) release() {
	c.st = stActive
	i := 0
	for ; i < len(c.holds) && c.st == stActive; i++ {
		h := c.holds[i]
		if h.n < 0 {
			c.out.CloseDir(h.s, h.first)
			c.sides[h.s].held--
			continue
		}
		if !c.process(h.s, c.held[h.off:h.off+h.n], h.first, h.last) {
			c.st = stWaiting
			break
		}
		c.sides[h.s].held--
	}
	if c.st == stOff {
		return // given up meanwhile (dropHeld has cleared the holds)
	}
	if i == len(c.holds) {
		c.env.held -= len(c.held)
		c.held, c.holds = c.held[:0], c.holds[:0]
		return
	}
	// keep holds[i:], moved to the front
	base := c.holds[i].off
	n := copy(c.held, c.held[base:])
	c.env.held -= len(c.held) - n
	c.held = c.held[:n]
	k := copy(c.holds, c.holds[i:])
	c.holds = c.holds[:k]
	for j := range c.holds {
		c.holds[j].off -= base
	}
}

// process handles one record; false when it needs what is not there yet
// (the ServerHello, or secrets): the caller holds it.
func (c *Conn) process(s Side, rec []byte, first, last time.Time) bool {
	d := &c.sides[s]
	typ := rec[0]
	if !c.protected(s, typ) {
		switch typ {
		case typeHandshake:
			if !d.hs.feed(rec[recordHeader:], func(t byte, body []byte) bool { return c.handshake(s, t, body) }) {
				c.giveUp(CtrMalformed)
			}
		case typeCCS:
			if c.version == 0 {
				c.needSH, c.want, c.alt = true, 0, 0
				return false
			}
			if c.version == VersionTLS12 {
				d.enc, d.seq = true, 0
			}
		}
		return true
	}
	// protected
	if !c.haveSH {
		if !c.haveCR {
			c.giveUp(CtrMalformed)
			return true
		}
		c.needSH, c.want, c.alt = true, 0, 0
		return false
	}
	if c.version == VersionTLS13 {
		d.enc = true
	}
	if d.aead == nil && !c.setup(s) {
		return false
	}
	if c.st == stOff {
		return true
	}
	pt, inner, ok := c.open(s, rec, d.seq)
	if !ok && d.trial {
		return true // a handshake record: skipped until the application key opens one
	}
	if !ok {
		c.env.Stats.N[CtrAuthFailures]++
		d.seq++
		d.fails++
		if d.fails >= maxFails {
			c.giveUp(CtrMalformed)
		} else {
			c.out.Gap(s, first)
		}
		return true
	}
	d.fails = 0
	d.seq++
	c.opened(s, pt, inner, first, last)
	return true
}

// maxFails is how many records in a row may fail authentication before a
// session is given up (wrong secrets).
const maxFails = 8

// opened handles the plaintext of a record of side s.
func (c *Conn) opened(s Side, pt []byte, inner byte, first, last time.Time) {
	d := &c.sides[s]
	c.env.Stats.N[CtrRecords]++
	switch inner {
	case typeAppData:
		if len(pt) == 0 {
			return
		}
		if !c.plain {
			c.plain = true
			c.env.Stats.N[CtrDecrypted]++
		}
		c.env.Stats.N[CtrPlainBytes] += uint64(len(pt))
		c.out.Plain(s, pt, first, last)
	case typeHandshake:
		if !d.hs.feed(pt, func(t byte, body []byte) bool { return c.handshake(s, t, body) }) {
			c.giveUp(CtrMalformed)
			return
		}
	}
	if c.st == stOff || c.version != VersionTLS13 {
		return
	}
	switch {
	case d.finished && !d.app:
		d.finished = false
		d.app, d.aead, d.seq, d.trial = true, nil, 0, false
	case d.update:
		d.update = false
		next := nextSecret13(c.suite, d.secret)
		clear(d.secret)
		d.secret = next
		c.key13(s)
		c.env.Stats.N[CtrKeyUpdates]++
	}
}

// secret indexes of each side's TLS 1.3 secrets
var (
	hsSecret  = [2]int{secClientHS, secServerHS}
	appSecret = [2]int{secClientApp, secServerApp}
)

// setup derives side s's key for its current epoch; false when the
// secrets are not there yet (the caller waits).
func (c *Conn) setup(s Side) bool {
	d := &c.sides[s]
	if c.version == VersionTLS12 {
		if !c.env.Keys.Lookup(&c.cr, HasMaster, &c.sec) && !c.resumedSecret() {
			c.needSH, c.want, c.alt = false, HasMaster, 0
			return false
		}
		c.found()
		c.keepResumable()
		ck, sk, civ, siv := keys12(c.suite, c.sec.get(secMaster), &c.cr, &c.sr)
		key, iv := ck, civ
		if s == Server {
			key, iv = sk, siv
		}
		a, err := c.suite.newAEAD(key)
		if err != nil {
			c.giveUp(CtrMalformed)
			return true
		}
		d.aead = a
		copy(d.iv[:], iv)
		clear(ck)
		clear(sk)
		return true
	}
	hs, app := uint8(1)<<hsSecret[s], uint8(1)<<appSecret[s]
	switch {
	case !d.app && c.env.Keys.Lookup(&c.cr, hs, &c.sec):
		d.secret = append(d.secret[:0], c.sec.get(hsSecret[s])...)
	case c.env.Keys.Lookup(&c.cr, app, &c.sec):
		if !d.app {
			d.trial = true // no handshake secret: find the first application record
		}
		d.secret = append(d.secret[:0], c.sec.get(appSecret[s])...)
	default:
		c.needSH, c.want, c.alt = false, hs, app
		if d.app {
			c.want, c.alt = app, 0
		}
		return false
	}
	if len(d.secret) != c.suite.hash()().Size() {
		c.giveUp(CtrMalformed)
		return true
	}
	c.found()
	c.key13(s)
	return true
}

// resumedSecret looks for the master secret of the session a TLS 1.2
// connection resumes, by the session id the server echoed or the ticket
// the client offered.
func (c *Conn) resumedSecret() bool {
	if c.resumed && c.env.Keys.Lookup(&c.sid, HasMaster, &c.sec) {
		return true
	}
	return c.hasTicket && (c.resumed || !c.hasSID) && c.env.Keys.Lookup(&c.ticket, HasMaster, &c.sec)
}

// keepResumable remembers a TLS 1.2 session's master secret under its
// session id and the ticket the server issued, once both are known.
func (c *Conn) keepResumable() {
	if !c.keyed || c.version != VersionTLS12 || c.sec.Has&HasMaster == 0 {
		return
	}
	m := c.sec.get(secMaster)
	if c.hasSrvSID {
		c.env.Keys.remember(c.srvSID, m)
		c.hasSrvSID = false
	}
	if c.hasNew {
		c.env.Keys.remember(c.newTicket, m)
		c.hasNew = false
	}
}

// found counts a session whose secrets were found.
func (c *Conn) found() {
	if !c.keyed {
		c.keyed = true
		c.env.Stats.N[CtrKeyed]++
	}
}

// key13 sets side s's TLS 1.3 key and IV from its current secret.
func (c *Conn) key13(s Side) {
	d := &c.sides[s]
	key, iv := keys13(c.suite, d.secret)
	a, err := c.suite.newAEAD(key)
	clear(key)
	if err != nil {
		c.giveUp(CtrMalformed)
		return
	}
	d.aead, d.seq = a, 0
	copy(d.iv[:], iv)
}

// open authenticates and decrypts one protected record of side s with
// sequence number seq, returning the plaintext (in the Env's scratch
// buffer) and its content type. A TLS 1.3 side in trial mode tries its
// application key, and takes it on success.
func (c *Conn) open(s Side, rec []byte, seq uint64) ([]byte, byte, bool) {
	d := &c.sides[s]
	if d.aead == nil {
		return nil, 0, false // no key for this side yet (a record hunted after a gap before the keys)
	}
	body := rec[recordHeader:]
	if cap(c.env.plain) < maxCipher12 {
		c.env.plain = make([]byte, 0, maxCipher12)
	}
	nonce, aad := &d.nonce, &d.aad
	if c.version == VersionTLS12 {
		binary.BigEndian.PutUint64(aad[:8], seq)
		aad[8], aad[9], aad[10] = rec[0], rec[1], rec[2]
		ct := body
		if c.suite.explict {
			if len(body) < 8+tagLen {
				return nil, 0, false
			}
			copy(nonce[:4], d.iv[:4])
			copy(nonce[4:], body[:8])
			ct = body[8:]
		} else {
			if len(body) < tagLen {
				return nil, 0, false
			}
			*nonce = d.iv
			xorSeq(nonce, seq)
		}
		binary.BigEndian.PutUint16(aad[11:], uint16(len(ct)-tagLen))
		pt, err := d.aead.Open(c.env.plain[:0], nonce[:], ct, aad[:])
		if err != nil {
			return nil, 0, false
		}
		return pt, rec[0], true
	}
	if rec[0] != typeAppData || len(body) < tagLen+1 {
		return nil, 0, false
	}
	*nonce = d.iv
	xorSeq(nonce, seq)
	pt, err := d.aead.Open(c.env.plain[:0], nonce[:], body, rec[:recordHeader])
	if err != nil {
		return nil, 0, false
	}
	if d.trial {
		d.trial, d.app = false, true
	}
	// the inner content type is the last non-zero byte
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 {
		return nil, 0, true // all padding: nothing
	}
	return pt[:i], pt[i], true
}

func xorSeq(nonce *[12]byte, seq uint64) {
	for i := 0; i < 8; i++ {
		nonce[4+i] ^= byte(seq >> (56 - 8*i))
	}
}

// handshake handles one handshake message of side s; false when it is
// malformed.
func (c *Conn) handshake(s Side, typ byte, body []byte) bool {
	d := &c.sides[s]
	switch typ {
	case hsClientHello:
		if s != Client || len(body) < 34 {
			return s != Client
		}
		if !c.haveCR {
			copy(c.cr[:], body[2:34])
			c.haveCR = true
			sid, ticket := helloResume(body)
			if len(sid) > 0 {
				c.sid, c.hasSID = resumeKey('s', sid), true
			}
			if len(ticket) > 0 {
				c.ticket, c.hasTicket = resumeKey('t', ticket), true
			}
		}
	case hsServerHello:
		if s != Server || c.haveSH {
			return true
		}
		return c.serverHello(body)
	case hsNewSessionTicket:
		if s == Server && c.version == VersionTLS12 {
			if t := ticketOf(body); len(t) > 0 {
				c.newTicket, c.hasNew = resumeKey('t', t), true
				c.keepResumable()
			}
		}
	case hsEncryptedExtensions:
		if s == Server {
			if p, ok := alpnOf(body, false); ok {
				c.alpn = p
			} else {
				return false
			}
		}
	case hsFinished:
		d.finished = true
	case hsKeyUpdate:
		if d.app {
			d.update = true
		}
	}
	return true
}

// helloRetry is the random of a HelloRetryRequest (RFC 8446 section 4.1.3).
var helloRetry = [32]byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// serverHello reads the version, random, cipher suite and (TLS 1.2) ALPN.
func (c *Conn) serverHello(body []byte) bool {
	r := reader{b: body}
	legacy := uint16(r.u16())
	random := r.bytes(32)
	r.bytes(r.u8()) // session id
	id := uint16(r.u16())
	r.u8() // compression
	if r.bad {
		return false
	}
	if [32]byte(random) == helloRetry {
		return true // the real ServerHello follows the client's second hello
	}
	version := legacy
	if len(r.b) > 0 {
		exts := reader{b: r.bytes(r.u16())}
		for len(exts.b) > 0 && !exts.bad {
			t := exts.u16()
			data := exts.bytes(exts.u16())
			switch t {
			case 43: // supported_versions
				if len(data) == 2 {
					version = uint16(data[0])<<8 | uint16(data[1])
				}
			}
		}
		if exts.bad || r.bad {
			return false
		}
	}
	copy(c.sr[:], random)
	c.haveSH, c.version = true, version
	if sid := serverSessionID(body); len(sid) > 0 {
		k := resumeKey('s', sid)
		c.resumed = c.hasSID && k == c.sid
		c.srvSID, c.hasSrvSID = k, true
	}
	if version != VersionTLS12 && version != VersionTLS13 {
		c.giveUp(CtrUnsupported)
		return true
	}
	c.suite = suiteByID(id, version == VersionTLS13)
	if c.suite == nil {
		c.giveUp(CtrUnsupported)
		return true
	}
	if version == VersionTLS12 {
		if p, ok := alpnOf(body, true); ok {
			c.alpn = p
		} else {
			return false
		}
	}
	return c.haveCR || c.st == stOff
}

// hunt looks for side s's next record after a gap: a plausible header
// whose record opens with one of the next sequence numbers. It returns
// what is left of b.
func (c *Conn) hunt(s Side, b []byte, first, last time.Time) []byte {
	d := &c.sides[s]
	if len(d.buf) == 0 {
		d.bufFirst = first
	}
	k := min(len(b), 2*maxCipher12-len(d.buf))
	d.buf = append(d.buf, b[:k]...)
	b = b[k:]
	for len(d.buf) >= recordHeader {
		i := 0
		for ; i+recordHeader <= len(d.buf); i++ {
			h := d.buf[i:]
			if (h[0] == typeAppData || h[0] == typeAlert || h[0] == typeHandshake && c.version == VersionTLS12) && h[1] == 3 && h[2] == 3 {
				if _, ok := c.recordLen(h); ok {
					break
				}
			}
		}
		if i+recordHeader > len(d.buf) { // no header: keep the last bytes, which may start one
			i = len(d.buf) - recordHeader + 1
		}
		d.hunted += i
		d.buf = d.buf[:copy(d.buf, d.buf[i:])]
		if d.hunted > maxHunt {
			c.giveUp(CtrLost)
			return nil
		}
		if len(d.buf) < recordHeader {
			break
		}
		n, _ := c.recordLen(d.buf)
		if len(d.buf) < recordHeader+n {
			break // wait for the rest of the candidate
		}
		rec := d.buf[:recordHeader+n]
		if seq, ok := c.findSeq(s, rec); ok {
			d.lost, d.seq, d.fails = false, seq, 0
			c.env.Stats.N[CtrResyncs]++
			c.process(s, rec, d.bufFirst, last)
			rest := append([]byte(nil), d.buf[recordHeader+n:]...)
			d.buf = d.buf[:0]
			if c.st == stOff {
				return nil
			}
			c.Data(s, rest, first, last)
			return b
		}
		d.hunted++
		d.buf = d.buf[:copy(d.buf, d.buf[1:])]
	}
	return b
}

// Hunting bounds: bytes thrown away before a session is given up, and
// sequence numbers tried per candidate record.
const (
	maxHunt = 1 << 20
	maxSkip = 256
)

// findSeq tries the sequence numbers a record after a gap may have.
func (c *Conn) findSeq(s Side, rec []byte) (uint64, bool) {
	d := &c.sides[s]
	if c.version == VersionTLS12 && c.suite.explict && len(rec) >= recordHeader+8 {
		// implementations send the sequence number as the explicit nonce
		seq := binary.BigEndian.Uint64(rec[recordHeader:])
		if seq >= d.seq && seq-d.seq < 1<<20 {
			if _, _, ok := c.open(s, rec, seq); ok {
				return seq, true
			}
		}
	}
	for k := uint64(0); k < maxSkip; k++ {
		if _, _, ok := c.open(s, rec, d.seq+k); ok {
			return d.seq + k, true
		}
	}
	return 0, false
}
