package tlsdecrypt

// Handshake message types this package reads.
const (
	hsClientHello         = 1
	hsServerHello         = 2
	hsNewSessionTicket    = 4
	hsEncryptedExtensions = 8
	hsFinished            = 20
	hsKeyUpdate           = 24
)

// maxKept bounds a handshake message body that is kept to be read (hellos
// and encrypted extensions); other messages are skipped without being kept.
const maxKept = 64 << 10

// hsParser splits one side's handshake stream (the payloads of its
// handshake records, in order) into messages, which may span records.
type hsParser struct {
	hdr  [4]byte
	nhdr int
	left int // body bytes still to come
	keep bool
	body []byte
}

func kept(typ byte) bool {
	return typ == hsClientHello || typ == hsServerHello || typ == hsEncryptedExtensions || typ == hsNewSessionTicket
}

// helloResume reads what a ClientHello offers to resume a TLS 1.2 session
// with: its session id and session ticket (RFC 5077), nil when absent.
func helloResume(body []byte) (sid, ticket []byte) {
	r := reader{b: body}
	r.u16()
	r.bytes(32)
	sid = r.bytes(r.u8())
	r.bytes(r.u16()) // cipher suites
	r.bytes(r.u8())  // compression
	if r.bad || len(r.b) == 0 {
		return sid, nil
	}
	exts := reader{b: r.bytes(r.u16())}
	for len(exts.b) > 0 && !exts.bad {
		t := exts.u16()
		data := exts.bytes(exts.u16())
		if t == 35 && !exts.bad && len(data) > 0 { // session_ticket
			return sid, data
		}
	}
	return sid, nil
}

// serverSessionID reads the session id of a ServerHello body.
func serverSessionID(body []byte) []byte {
	r := reader{b: body}
	r.u16()
	r.bytes(32)
	sid := r.bytes(r.u8())
	if r.bad {
		return nil
	}
	return sid
}

// ticketOf reads the ticket of a TLS 1.2 NewSessionTicket body.
func ticketOf(body []byte) []byte {
	r := reader{b: body}
	r.bytes(4) // lifetime hint
	t := r.bytes(r.u16())
	if r.bad || len(r.b) > 0 {
		return nil
	}
	return t
}

// feed parses b, calling fn with each complete message (body nil for
// messages not kept); false when a message is malformed or fn says so.
func (p *hsParser) feed(b []byte, fn func(typ byte, body []byte) bool) bool {
	for len(b) > 0 {
		if p.nhdr < 4 {
			k := copy(p.hdr[p.nhdr:], b)
			p.nhdr += k
			b = b[k:]
			if p.nhdr < 4 {
				return true
			}
			p.left = int(p.hdr[1])<<16 | int(p.hdr[2])<<8 | int(p.hdr[3])
			p.keep = kept(p.hdr[0])
			if p.keep && p.left > maxKept {
				return false
			}
			p.body = p.body[:0]
		}
		k := min(p.left, len(b))
		if p.keep {
			p.body = append(p.body, b[:k]...)
		}
		p.left -= k
		b = b[k:]
		if p.left == 0 {
			p.nhdr = 0
			var body []byte
			if p.keep {
				body = p.body
			}
			if !fn(p.hdr[0], body) {
				return false
			}
		}
	}
	return true
}

// reader walks a handshake message.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() int {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() int {
	if len(r.b) < 2 {
		r.bad = true
		return 0
	}
	v := int(r.b[0])<<8 | int(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// maxALPN bounds the protocol name kept.
const maxALPN = 32

// alpnOf reads the selected application protocol from a ServerHello body
// (serverHello) or an EncryptedExtensions body; false when it is
// malformed.
func alpnOf(body []byte, serverHello bool) (string, bool) {
	r := reader{b: body}
	if serverHello {
		r.u16()
		r.bytes(32)
		r.bytes(r.u8())
		r.u16()
		r.u8()
		if r.bad {
			return "", false
		}
		if len(r.b) == 0 {
			return "", true
		}
	}
	exts := reader{b: r.bytes(r.u16())}
	if r.bad {
		return "", false
	}
	for len(exts.b) > 0 {
		t := exts.u16()
		data := reader{b: exts.bytes(exts.u16())}
		if exts.bad {
			return "", false
		}
		if t != 16 {
			continue
		}
		list := reader{b: data.bytes(data.u16())}
		p := list.bytes(list.u8())
		if data.bad || list.bad || len(p) == 0 {
			return "", false
		}
		if len(p) > maxALPN {
			p = p[:maxALPN]
		}
		return string(p), true
	}
	return "", true
}
