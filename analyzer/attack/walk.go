package attack

import (
	"encoding/base64"
	"hash/maphash"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/apitap/apitap/reassembly/http1"
)

// input says where a value of the request is.
type input struct {
	loc  string // query, path, header, cookie, body
	name string // the parameter, header, cookie or JSON key name
	// key: the value is itself a name (a parameter, cookie, form field
	// or JSON key), which attackers fill as readily as values
	key bool
	// cred: a credential (the Authorization header, a cookie): its
	// evidence is masked but for what matched. Sensitive parameter and
	// header names are credentials too (credentialLocation), found when a
	// hit is recorded.
	cred bool
}

// value examines one input value and says whether a detector matched.
func (w *worker) value(in input, raw string, plus bool) bool {
	if raw == "" {
		return false
	}
	v, bits := w.scan(raw, plus)
	if !in.key {
		w.values = append(w.values, kv{in.loc, in.name, v})
		if in.loc != "header" && in.loc != "path" && redirectName(in.name) {
			bits |= cRedirect // the name, not the value, calls for the check
		}
	}
	return w.detect(in, v, bits)
}

// scan normalises a value and runs the prefilter over the result. The
// prefilter also finds the bytes that call for decoding, so a value that
// needs none (most) is read once.
func (w *worker) scan(raw string, plus bool) (v string, bits int) {
	v = raw
	if len(v) > maxValue {
		v = v[:maxValue]
	}
	bits = w.st.pre.scan(v)
	if bits&pNorm != 0 || plus && bits&pPlus != 0 {
		v = w.norm.norm(raw, plus)
		bits = w.st.pre.scan(v)
	}
	return v, resolve(v, bits)
}

// resolve adds to the prefilter's bits of v the classes it has no
// keyword for: a command at the start, SQL in what is not prose.
func resolve(v string, bits int) int {
	if bits&cCmd == 0 && commandStart(v) {
		bits |= cCmd
	}
	if bits&(pWeakSQL|cSQLi) == pWeakSQL && countProse(v, 6) < 6 {
		bits |= cSQLi
	}
	return bits
}

// key examines a parameter, cookie, form field or JSON key name: the
// operator and pollution keys, and every detector, as for a value. It
// says whether something matched.
func (w *worker) key(in input, k string) (found bool) {
	if k == "" {
		return false
	}
	w.names = append(w.names, kv{in.loc, k, k})
	// every operator has a '$', and both pollution keys have "proto" (no
	// other rune lower-cases to one of its letters): most names are
	// passed over without the lower-casing the detectors do
	if w.off&cNoSQLi == 0 && strings.IndexByte(k, '$') >= 0 {
		if ok, rule := nosqliKey(k); ok {
			w.add(cNoSQLi, rule, in, k, 0)
			found = true
		}
	}
	if w.off&cProto == 0 && containsFoldAt(k, "proto", rareProto) {
		if ok, rule := protoKey(k); ok {
			w.add(cProto, rule, in, k, 0)
			found = true
		}
	}
	in.key = true
	_, bits := w.scan(k, false) // names are decoded by the walk already
	return w.detect(in, k, bits) || found
}

var rareProto = rarest("proto")

// add records a hit of class (one per class and transaction); at is
// where in v the attack starts.
func (w *worker) add(class int, rule string, in input, v string, at int) {
	if w.seen&class != 0 {
		return // one hit per class and transaction
	}
	i := 0
	for class>>i != 1 {
		i++
	}
	w.seen |= class
	name := in.name
	if in.loc == "body" || in.key { // the body's bytes are not ours to keep (see view)
		name, v = strings.Clone(name), strings.Clone(v)
	}
	if at < 0 || at > len(v) {
		at = 0
	}
	w.hits = append(w.hits, hit{class: classNames[i], rule: rule, severity: classSeverity[i], action: "log", loc: in.loc, name: name,
		value: v, at: at, cred: in.cred || credentialLocation(in.loc, in.name), key: in.key})
}

// request walks the inputs: path, query, headers, cookies, body.
func (w *worker) request(req *http1.Request) {
	w.path = w.pathInput(req.Path)
	w.params("query", req.Query)
	w.ua, w.framing = "", false
	ua := false
	for i := range req.Headers {
		h := &req.Headers[i]
		if h.Name == "" {
			w.header(i, h)
			continue
		}
		id := h.Known()
		if id == http1.IDOther && !isASCII(h.Name) {
			id = foldedHeader(h.Name)
		}
		switch id {
		case http1.IDCookie:
			w.cookies(h.Value)
			continue
		case http1.IDContentLength, http1.IDTransferEncoding:
			w.framing = true
		case http1.IDAuthorization:
			if w.authorization(h) {
				continue
			}
		case http1.IDUserAgent:
			if !ua {
				w.ua, ua = h.Value, true
			}
		case http1.IDReferer:
			if !w.referer(h) {
				// not a URL with a query: the value as a query value
				w.value(input{loc: "header", name: h.Name}, h.Value, true)
			}
			continue
		}
		if fileNameHeader(h.Name) {
			w.uploadHeader(h.Name, h.Value)
		}
		w.header(i, h)
	}
	w.body(req)
}

// pathInput examines the path: as one value (traversal needs the whole
// of it) and, when the whole has something, each segment apart (an
// injection in one segment of /v1/users/1%20OR%201=1/orders). It returns
// the decoded path.
func (w *worker) pathInput(raw string) string {
	path := raw
	if len(path) > maxValue {
		path = path[:maxValue]
	}
	bits, g := w.st.pre.scanGrams(path)
	w.rawGrams = g
	if bits&pNorm != 0 {
		path = w.norm.norm(raw, false)
		bits = w.st.pre.scan(path)
	}
	if path == "" {
		return path
	}
	decoded := path
	if bits&pNorm != 0 || len(path) > maxValue {
		// the decoded path is examined as a value, and values are
		// normalised: decode it again
		path, bits = w.scan(path, false)
	} else {
		bits = resolve(path, bits)
	}
	if w.rs.anyValue {
		w.values = append(w.values, kv{"path", "", path})
	}
	in := input{loc: "path"}
	if bits&classBits&^w.off == 0 {
		if strings.ContainsAny(path, ".@~") {
			w.hiddenFile(path)
		}
		return decoded
	}
	w.detect(in, path, bits)
	w.hiddenFile(path)
	// the segments, when the path has more than one
	if strings.Count(path, "/") < 2 {
		return decoded
	}
	for rest := path; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if seg == "" || len(seg) == len(path) {
			continue
		}
		if sb := resolve(seg, w.st.pre.scan(seg)); sb&classBits&^w.off != 0 {
			w.detect(in, seg, sb&^cTraversal) // traversal needs the whole path
		}
	}
	return decoded
}

// cmdBit is cCmd when a value starts with a command (see commandStart).
func cmdBit(v string) int {
	if commandStart(v) {
		return cCmd
	}
	return 0
}

// params walks a query string or form body: names and values.
func (w *worker) params(loc, q string) {
	for q != "" {
		var p string
		p, q, _ = strings.Cut(q, "&")
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		name := w.norm.norm(k, true)
		if loc == "body" {
			name = strings.Clone(name) // the body's bytes are reused
		}
		in := input{loc: loc, name: name}
		w.key(in, name)
		w.value(in, v, true)
		if k2, v2, ok := strings.Cut(name, "="); ok && v == "" && k2 != "" {
			// an encoded '=' in the name (pay%3DAND+1%3D1): a parser that
			// decodes first sees this value
			in.name = k2
			in.key = true // still part of a name
			w.value(in, v2, false)
		}
	}
}

// referer examines a Referer that is a URL with a query as its parts:
// the URL before the query, and each parameter (decoded as a query is,
// '+' a space) apart, so that a search phrase in it reads as the prose
// it is. It says whether it did.
func (w *worker) referer(h *http1.Header) bool {
	u, q, ok := strings.Cut(h.Value, "?")
	if !ok || !strings.Contains(u, "://") || strings.ContainsAny(u, " <>'\"") {
		return false
	}
	if w.wholeClean(h.Value) {
		return true
	}
	in := input{loc: "header", name: h.Name}
	found := w.value(in, u, false)
	if frag := strings.IndexByte(q, '#'); frag >= 0 {
		found = w.value(in, q[frag+1:], true) || found
		q = q[:frag]
	}
	for q != "" {
		var p string
		p, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(p, "=")
		found = w.value(in, k, true) || found
		found = w.value(in, v, true) || found
	}
	if !found {
		w.rememberWhole(h.Value)
	}
	return true
}

// fileNameHeader says whether a header names an uploaded file.
func fileNameHeader(name string) bool {
	// by length first: this runs for every header
	switch len(name) {
	case len("x-filename"):
		return strings.EqualFold(name, "x-filename")
	case len("x-file-name"):
		return strings.EqualFold(name, "x-file-name")
	case len("x-upload-filename"):
		return strings.EqualFold(name, "x-upload-filename")
	}
	return false
}

// cookies walks a Cookie header: names and values (which are
// credentials: their evidence is masked but for what matched).
func (w *worker) cookies(header string) {
	if w.wholeClean(header) {
		return // the same cookies as before: nothing in them
	}
	found := false
	for c := header; c != ""; {
		var p string
		p, c, _ = strings.Cut(c, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		k = w.norm.norm(k, true) // frameworks URL-encode cookie names too
		in := input{loc: "cookie", name: k, cred: true}
		found = w.key(in, k) || found
		found = w.value(in, v, true) || found // frameworks URL-encode cookie values
	}
	if !found {
		w.rememberWhole(header)
	}
}

// A client sends the same Cookie and Referer headers with many requests:
// the worker remembers the whole values it found nothing in (a cache: the
// same value under the same header name yields the same nothing). Not
// when rules look at every value (any_value), which the walk collects.
const maxWhole = 1024

// wholeClean says whether a whole header value is remembered clean.
func (w *worker) wholeClean(v string) bool {
	if w.rs.anyValue || len(v) > maxCleanLen {
		return false
	}
	_, ok := w.whole[v]
	return ok
}

// rememberWhole remembers a clean whole header value seen before.
func (w *worker) rememberWhole(v string) {
	if w.rs.anyValue || len(v) > maxCleanLen {
		return
	}
	sum := maphash.String(w.seed, v)
	if i := sum % uint64(len(w.wholeOnce)); w.wholeOnce[i] != sum {
		w.wholeOnce[i] = sum
		return
	}
	if len(w.whole) >= maxWhole {
		clear(w.whole)
	}
	w.whole[strings.Clone(v)] = struct{}{}
}

// authorization examines the credentials of Basic authentication (user
// name and password) and says whether it did; other schemes' tokens (a
// bearer token is a blob, a lookup or an injection is not) are examined
// as any header value, through the memory of clean values (a client
// sends the same token with every request).
func (w *worker) authorization(h *http1.Header) bool {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h.Value), " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return false
	}
	cred = strings.TrimSpace(cred)
	// decoded into the worker's buffer: the one string below is all a
	// Basic request allocates here
	w.bsrc = append(w.bsrc[:0], cred...)
	w.bbuf = slices.Grow(w.bbuf[:0], base64.StdEncoding.DecodedLen(len(cred)))
	n, err := base64.StdEncoding.Decode(w.bbuf[:cap(w.bbuf)], w.bsrc)
	dec := w.bbuf[:n]
	if err != nil || !utf8.Valid(dec) {
		return false
	}
	in := input{loc: "header", name: h.Name, cred: true}
	user, pass, _ := strings.Cut(string(dec), ":")
	w.value(in, user, false)
	w.value(in, pass, false)
	return true
}

// body walks the request body by its type.
func (w *worker) body(req *http1.Request) {
	body := req.Body.Bytes()
	if len(body) > w.st.cfg.MaxBodyBytes {
		body = body[:w.st.cfg.MaxBodyBytes]
	}
	if len(body) == 0 {
		return
	}
	ct := http1.Get(req.Headers, http1.IDContentType)
	w.typedBody(body, ct, "body", 0)
}

// maxBodyDepth bounds multipart parts nested in parts.
const maxBodyDepth = 2

// typedBody walks a body (or a multipart part) of content type ct.
func (w *worker) typedBody(body []byte, ct, name string, depth int) {
	lct := strings.ToLower(ct)
	switch {
	case strings.Contains(lct, "multipart/") && depth < maxBodyDepth:
		if b := boundaryOf(ct); b != "" {
			w.multipart(body, b, depth)
			return
		}
		w.value(input{loc: "body", name: name}, view(body), false)
	case strings.Contains(lct, "json") || len(body) > 0 && (body[0] == '{' || body[0] == '['):
		walkJSONBuf(body, &w.jbuf, func(key string, val []byte, isKey bool) {
			in := input{loc: "body", name: key}
			if isKey {
				w.key(in, key)
				return
			}
			w.value(in, view(val), false)
		})
	case strings.Contains(lct, "x-www-form-urlencoded"):
		w.params("body", view(body))
	case strings.Contains(lct, "xml") || len(body) > 0 && body[0] == '<':
		lb := lowerASCII(view(body))
		if ok, rule := xxe(lb); ok && w.off&cXXE == 0 {
			w.add(cXXE, rule, input{loc: "body", name: name}, view(body), strings.Index(lb, "<!doctype"))
		}
		walkXML(body, func(key string, val []byte) {
			w.value(input{loc: "body", name: key}, view(val), false)
		})
	default:
		w.value(input{loc: "body", name: name}, view(body), false)
	}
}

// Header values repeat (User-Agent, Accept, a client's X-Forwarded-For),
// so the worker remembers the values the detectors found nothing in, with
// their normalised form. The memory is a cache: a value found in it
// yields what examining it again would.
const (
	// shortHeader is the length up to which a value is examined rather
	// than looked up first: scanning a short value costs what hashing it
	// does.
	shortHeader = 32
	// maxClean values of at most maxCleanLen bytes are remembered.
	maxClean, maxCleanLen = 4096, 512
)

// cleanValue is a remembered header value.
type cleanValue struct {
	norm string // the value normalised
	// ssrf: the SSRF detector looked at it, and its verdict depends on
	// whether the header's name is one whose value the server fetches
	// (fetch, the name it was examined under)
	ssrf, fetch bool
}

// header examines the value of the request's i-th header, through the
// memory of clean values.
func (w *worker) header(i int, h *http1.Header) {
	if h.Value == "" {
		return
	}
	long := len(h.Value) > shortHeader
	if long && w.remembered(h) {
		return
	}
	if !long && i < len(w.last) && w.last[i].is(h.Value) {
		// as in the last request: nothing to decode or look for
		if w.rs.anyValue {
			w.values = append(w.values, kv{"header", h.Name, h.Value})
		}
		return
	}
	v, bits := w.scan(h.Value, false)
	if w.rs.anyValue {
		w.values = append(w.values, kv{"header", h.Name, v})
	}
	if bits&classBits&^w.off == 0 {
		if long {
			w.remember(h, v, bits)
		} else if v == h.Value && i < len(w.last) {
			w.last[i].set(h.Value)
		}
		return
	}
	if !long {
		if c, ok := w.clean[h.Value]; ok && w.cleanFor(c, h) {
			return
		}
	}
	// a Host value is not remembered: its SSRF exemption (see detect) would
	// make it clean for other headers too
	in := input{loc: "header", name: h.Name}
	if !w.detect(in, v, bits) && h.Known() != http1.IDHost {
		w.remember(h, v, bits)
	}
}

// shortClean is a short header value that needs no decoding and has no
// keyword (a copy: the request's bytes are not ours to keep).
type shortClean struct {
	b [shortHeader]byte
	n uint8
}

func (c *shortClean) is(v string) bool { return string(c.b[:c.n]) == v }

func (c *shortClean) set(v string) { c.n = uint8(copy(c.b[:], v)) }

// remembered looks a header value up in the memory of clean ones.
func (w *worker) remembered(h *http1.Header) bool {
	c, ok := w.clean[h.Value]
	if !ok || !w.cleanFor(c, h) {
		return false
	}
	if w.rs.anyValue {
		w.values = append(w.values, kv{"header", h.Name, c.norm})
	}
	return true
}

// cleanFor says whether a remembered value is clean under h's name.
func (w *worker) cleanFor(c cleanValue, h *http1.Header) bool {
	return !c.ssrf || fetchParam(h.Name) == c.fetch
}

// remember keeps a clean header value when it has been seen before (by
// a table of hashes: values seen once, like request and trace ids, cost
// no copy and do not crowd out the ones that repeat).
func (w *worker) remember(h *http1.Header, v string, bits int) {
	if len(h.Value) > maxCleanLen {
		return
	}
	sum := maphash.String(w.seed, h.Value)
	if i := sum % uint64(len(w.once)); w.once[i] != sum {
		w.once[i] = sum
		return
	}
	if len(w.clean) >= maxClean {
		clear(w.clean)
	}
	k := strings.Clone(h.Value)
	if v == h.Value {
		v = k // not the reassembly buffer's bytes
	}
	c := cleanValue{norm: v}
	if bits&cSSRF&^w.off != 0 {
		c.ssrf, c.fetch = true, fetchParam(h.Name)
	}
	w.clean[k] = c
}

// foldedHeader is the ID of a name that only folds (strings.EqualFold) to
// a header the request walk treats apart: the Kelvin sign folds to k and ſ
// to s (of the others, Authorization and Content-Length have neither
// letter, and Transfer-Encoding's ſ spelling is too long for the framing
// checks). Parsed names are ASCII tokens: only headers built by hand get
// here.
func foldedHeader(name string) http1.HeaderID {
	switch {
	case strings.EqualFold(name, "cookie"):
		return http1.IDCookie
	case strings.EqualFold(name, "user-agent"):
		return http1.IDUserAgent
	}
	return http1.IDOther
}

// nameIs is strings.EqualFold(name, lower) for an ASCII lower-case
// lower (a header or parameter name), quick to say no. A name can only
// match when it is at least as long (runes that fold to ASCII letters, K
// and ſ, take more bytes) and its first byte, when ASCII, is lower's in
// either case.
func nameIs(name, lower string) bool {
	if len(name) < len(lower) || len(lower) == 0 {
		return len(name) == len(lower)
	}
	if c := name[0]; c < utf8.RuneSelf && lowerTab[c] != lower[0] {
		return false
	}
	if len(name) == len(lower) {
		// names are ASCII: compare bytes, and leave others to EqualFold
		for i := 0; i < len(name); i++ {
			if lowerTab[name[i]] != lower[i] {
				return name[i] >= utf8.RuneSelf && strings.EqualFold(name, lower)
			}
		}
		return true
	}
	return strings.EqualFold(name, lower)
}
