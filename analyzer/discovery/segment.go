package discovery

import (
	"strconv"
	"strings"
)

// Kind is what a typed recogniser says a path segment is.
type Kind uint8

// Segment kinds. KindLiteral segments stay literal unless statistics fold
// them; every other kind is a parameter value at once.
const (
	KindLiteral Kind = iota
	KindInt
	KindUUID
	KindHex
	KindDate
	KindEmail
	KindPhone
	KindToken // base64url-like opaque token mixing letters and digits
	KindSlug  // a literal folded by statistics (set when folding)
	numKinds
)

var kindNames = [numKinds]string{"literal", "integer", "uuid", "hex", "date", "email", "phone", "token", "string"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// classify runs the typed recognisers over one path segment (not empty,
// not unescaped). It allocates nothing.
func classify(s string) Kind {
	n := len(s)
	if n == 0 {
		return KindLiteral
	}
	if isVersion(s) {
		return KindLiteral
	}
	// one table lookup per byte: the counts by byte class
	var cnt [numByteClasses]int
	for i := 0; i < n; i++ {
		cnt[byteClasses[s[i]]]++
	}
	digits, dashes, other := cnt[bDigit], cnt[bDash], cnt[bOther]
	lower, upper := cnt[bLowerHex]+cnt[bLower], cnt[bUpperHex]+cnt[bUpper]
	hexLetters := cnt[bLowerHex] + cnt[bUpperHex]
	switch {
	case digits == n:
		return KindInt
	case n > 1 && s[0] == '+' && digits == n-1 && n >= 9:
		return KindPhone
	case n == 36 && dashes == 4 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && digits+hexLetters == 32:
		return KindUUID
	case other == 0 && dashes == 0 && n >= 8 && digits+hexLetters == n && digits > 0 && (lower == 0 || upper == 0):
		return KindHex
	case n >= 11 && other > 0 && digits+hexLetters+other == n && digits > 0 && strings.Count(s, ":") == other && (lower == 0 || upper == 0):
		// colon-separated hex: MAC addresses, key fingerprints (3b:16:bf:...)
		return KindHex
	case isDate(s):
		return KindDate
	case strings.IndexByte(s, '@') > 0 && strings.IndexByte(s, '.') > 0:
		return KindEmail
	}
	if n >= 16 && digits > 0 && lower+upper > 0 && other <= 2 {
		// long mixed tokens: base64url ids, ULIDs, KSUIDs, Stripe-like ids
		return KindToken
	}
	if n >= 12 && upper >= 3 && lower >= 3 && (caseSwitches(s)*3 >= n || upper*3 >= n) {
		// random base62 without digits: inv_JKRXjXcAaUyAQT (camelCase
		// words switch case only a few times)
		return KindToken
	}
	if n >= 6 && digits >= 3 && lower+upper > 0 && digits*3 >= n && other <= 2 {
		// short ids mixing letters and many digits: ord_8812, A1B2C3D4
		return KindToken
	}
	if n >= 16 && upper+digits == n {
		// opaque upper-case keys: DSGFQILMDPCSDYBGVT
		return KindToken
	}
	return KindLiteral
}

// Byte classes of classify's counts.
const (
	bOther = iota
	bDigit
	bLowerHex // a-f
	bLower    // g-z
	bUpperHex // A-F
	bUpper    // G-Z
	bDash
	numByteClasses
)

var byteClasses = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= '0' && c <= '9':
			t[c] = bDigit
		case c >= 'a' && c <= 'f':
			t[c] = bLowerHex
		case c >= 'g' && c <= 'z':
			t[c] = bLower
		case c >= 'A' && c <= 'F':
			t[c] = bUpperHex
		case c >= 'G' && c <= 'Z':
			t[c] = bUpper
		case c == '-':
			t[c] = bDash
		}
	}
	return
}()

// apiExt are extensions that name a representation of an API resource
// (/Calls/{sid}.json): a value with one is a parameter with a suffix.
var apiExt = map[string]bool{"json": true, "xml": true, "csv": true, "yaml": true, "yml": true, "atom": true, "rss": true,
	"ics": true, "ndjson": true, "geojson": true, "jsonl": true}

// splitExt splits an API representation extension (".json") off a
// segment; ext is "" when it has none.
func splitExt(seg string) (stem, ext string) {
	i := strings.LastIndexByte(seg, '.')
	if i <= 0 || len(seg)-i > 8 || !apiExt[strings.ToLower(seg[i+1:])] {
		return seg, ""
	}
	return seg[:i], seg[i:]
}

// segKind is what a segment at a depth (0: the first) is: a parameter
// value of a kind, with the extension it carries, or a literal. Version
// segments stay literal, and so does a date in the first position (a date
// version: /2010-04-01/Accounts.json).
func segKind(seg string, depth int) (Kind, string) {
	if isVersion(seg) {
		return KindLiteral, ""
	}
	if stem, ext := splitExt(seg); ext != "" {
		if k := classify(stem); k != KindLiteral && !(k == KindDate && depth == 0) {
			return k, ext
		}
		return KindLiteral, ""
	}
	k := classify(seg)
	if k == KindDate && depth == 0 {
		return KindLiteral, ""
	}
	return k, ""
}

// tokenPrefix returns the type prefix of an id such as cus_8Hk2 or
// inv-2041 ("cus_", "inv-"), or "".
func tokenPrefix(s string) string {
	for i := 1; i < len(s) && i <= 5; i++ {
		c := s[i]
		if c == '_' || c == '-' {
			if i+1 < len(s) {
				return s[:i+1]
			}
			return ""
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return ""
		}
	}
	return ""
}

// caseSwitches counts changes between upper- and lower-case letters.
func caseSwitches(s string) int {
	n, prev := 0, byte(0)
	for i := 0; i < len(s); i++ {
		var c byte
		switch {
		case s[i] >= 'a' && s[i] <= 'z':
			c = 'l'
		case s[i] >= 'A' && s[i] <= 'Z':
			c = 'u'
		default:
			continue
		}
		if prev != 0 && c != prev {
			n++
		}
		prev = c
	}
	return n
}

// isVersion matches API version segments (v1, v2, v1.2, v4.0, v2beta1,
// v1alpha2): they stay literal so versions stay apart. Release tags with
// three numbers (v2.21.17) are values, not API versions.
func isVersion(s string) bool {
	if len(s) < 2 || len(s) > 12 || (s[0] != 'v' && s[0] != 'V') || s[1] < '0' || s[1] > '9' {
		return false
	}
	dots := 0
	letters := false
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.':
			dots++
			if dots > 1 || letters || i+1 == len(s) {
				return false
			}
		case c >= 'a' && c <= 'z':
			letters = true
		default:
			return false
		}
	}
	return true
}

// isDate matches YYYY-MM-DD, with an optional time part starting with T.
func isDate[T string | []byte](s T) bool {
	if len(s) < 10 {
		return false
	}
	for i := 0; i < 10; i++ {
		c := s[i]
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return len(s) == 10 || s[10] == 'T' || s[10] == 't'
}

// literalWords are segments that name an operation or a well-known
// resource next to an id parameter (/users/me, /users/search): they stay
// literal even where their siblings fold into a parameter.
var literalWords = map[string]bool{
	"me": true, "self": true, "current": true, "mine": true, "search": true, "count": true,
	"new": true, "latest": true, "recent": true, "all": true, "batch": true, "bulk": true,
	"export": true, "import": true, "stats": true, "summary": true, "lookup": true, "find": true,
	"query": true, "config": true, "settings": true, "status": true, "health": true, "login": true,
	"logout": true, "register": true, "signup": true, "token": true, "refresh": true, "verify": true,
	"default": true, "public": true, "upload": true, "download": true, "validate": true, "suggest": true,
	"autocomplete": true, "featured": true, "popular": true, "trending": true, "metadata": true,
}

// healthNames are last segments of health checks and probes.
var healthNames = map[string]bool{
	"health": true, "healthz": true, "healthcheck": true, "health-check": true, "_health": true,
	"readyz": true, "livez": true, "ready": true, "live": true, "liveness": true, "readiness": true,
	"ping": true, "metrics": true, "_status": true, "heartbeat": true,
}

// staticExt are file extensions of static assets and web pages.
var staticExt = map[string]bool{
	"js": true, "mjs": true, "css": true, "map": true, "png": true, "jpg": true, "jpeg": true, "gif": true,
	"svg": true, "ico": true, "webp": true, "avif": true, "bmp": true, "woff": true, "woff2": true,
	"ttf": true, "otf": true, "eot": true, "mp4": true, "webm": true, "mp3": true, "wav": true,
	"html": true, "htm": true, "txt": true, "pdf": true, "zip": true, "gz": true, "wasm": true,
}

// isStatic says whether path names a static asset by its extension.
func isStatic(path string) bool {
	i := strings.LastIndexByte(path, '.')
	if i < 0 || strings.IndexByte(path[i:], '/') >= 0 || len(path)-i > 7 {
		return false
	}
	return staticExt[strings.ToLower(path[i+1:])]
}

// Segments calls fn for each segment of a request path, with the rules
// every analyzer shares: empty segments (// and a trailing /) are
// skipped and matrix parameters (;x=y) cut off. fn returns false to stop.
func Segments(p string, fn func(seg string) bool) {
	for rest := p; ; {
		var seg string
		seg, rest = nextSegment(rest)
		if seg == "" {
			if rest == "" {
				return
			}
			continue
		}
		if !fn(seg) {
			return
		}
	}
}

// nextSegment returns the first segment of p (after leading slashes) and
// the rest; empty segments (//) are skipped and matrix parameters (;x=y)
// cut off.
func nextSegment(p string) (seg, rest string) {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	i := strings.IndexByte(p, '/')
	if i < 0 {
		seg, rest = p, ""
	} else {
		seg, rest = p[:i], p[i:]
	}
	if j := strings.IndexByte(seg, ';'); j >= 0 {
		seg = seg[:j]
	}
	return seg, rest
}

// paramName names a path parameter after the literal segment before it:
// users -> userId, order-items -> orderItemId, categories -> categoryId.
// Without one it is "id".
func paramName(prev string, k Kind) string {
	var buf [64]byte
	return string(appendParamName(buf[:0], prev, k))
}

// appendParamName appends paramName(prev, k) to b.
func appendParamName(b []byte, prev string, k Kind) []byte {
	if prev == "" || isVersion(prev) {
		switch k {
		case KindDate:
			return append(b, "date"...)
		case KindEmail:
			return append(b, "email"...)
		}
		return append(b, "id"...)
	}
	stem, y := singularParts(prev)
	start := len(b)
	up := false
	for part := 0; part < 2; part++ {
		w := stem
		if part == 1 {
			if !y {
				break
			}
			w = "y"
		}
		for i := 0; i < len(w); i++ {
			c := w[i]
			if c == '-' || c == '_' || c == '.' {
				up = len(b) > start
				continue
			}
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				continue
			}
			if up && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			up = false
			if len(b) == start && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
	}
	if len(b) == start {
		return append(b, "id"...)
	}
	switch k {
	case KindDate:
		return append(b, "Date"...)
	case KindEmail:
		return append(b, "Email"...)
	}
	return append(b, "Id"...)
}

// singular is a small English singulariser for resource names.
func singular(w string) string {
	stem, y := singularParts(w)
	if y {
		return stem + "y"
	}
	return stem
}

// singularParts is singular(w) as a prefix of w and whether a "y" follows
// it (no string is made).
func singularParts(w string) (stem string, y bool) {
	lw := "" // the lower-case form, made only for names that are not ASCII
	for i := 0; i < len(w); i++ {
		if w[i] >= 0x80 {
			lw = strings.ToLower(w)
			break
		}
	}
	suffix := func(x string) bool {
		if lw != "" {
			return strings.HasSuffix(lw, x)
		}
		if len(w) < len(x) {
			return false
		}
		t := w[len(w)-len(x):]
		for i := 0; i < len(x); i++ {
			c := t[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != x[i] {
				return false
			}
		}
		return true
	}
	switch {
	case suffix("ies") && len(w) > 4:
		return w[:len(w)-3], true
	case suffix("sses"), suffix("xes"), suffix("ches"), suffix("shes"):
		return w[:len(w)-2], false
	case suffix("ss"), suffix("us"), suffix("is"):
		return w, false
	case suffix("s") && len(w) > 3:
		return w[:len(w)-1], false
	}
	return w, false
}

// Template returns the online template of a path, for detections made
// before the catalog's statistics decide: segments the typed recognisers
// know (ids, UUIDs, hex, dates, e-mails, phone numbers, tokens) become
// parameters named after the segment before them; other segments are
// kept (percent-escaped). The catalog's template may fold more segments.
func Template(path string) string { return TemplateFolding(path, 0) }

// TemplateFolding is Template with more segments made parameters: those
// whose place (0 for the first segment Segments yields, up to 31) is set
// in fold, as the catalog folds literals it has seen too many of
// (KindSlug, named like any parameter after the segment before it, and
// followed by the segment's API extension if it has one: .json, .csv).
func TemplateFolding(path string, fold uint32) string {
	if grpcShaped(path) {
		return path // a gRPC method: the catalog keeps it literal too (grpc.go)
	}
	var buf [256]byte
	b := appendTemplate(buf[:0], path, fold)
	if len(b) == 0 {
		return "/"
	}
	return string(b)
}

// appendTemplate appends the segments of TemplateFolding(path, fold) to
// b (nothing for a path without segments). Parameter names are kept as
// places in b.
func appendTemplate(b []byte, path string, fold uint32) []byte {
	var spans [16][2]int
	names := spans[:0]
	prev := ""
	depth := 0
	for rest := path; ; {
		var seg string
		seg, rest = nextSegment(rest) // the segments Segments yields
		if seg == "" {
			if rest == "" {
				break
			}
			continue
		}
		b = append(b, '/')
		k, suffix := segKind(seg, depth)
		if depth < 32 && fold&(1<<depth) != 0 {
			// whatever the recognisers say, the place is a parameter; an
			// API extension stays after it, as the catalog's literalSuffix
			// keeps it ({exportId}.csv)
			k = KindSlug
			_, suffix = splitExt(seg)
		}
		if k != KindLiteral {
			b = append(b, '{')
			s := len(b)
			b = appendParamName(b, prev, k)
			base := len(b)
			// unique within the template, as uniqueName makes it
			for i := 2; dupName(b, s, names); i++ {
				b = strconv.AppendInt(b[:base], int64(i), 10)
			}
			names = append(names, [2]int{s, len(b)})
			b = append(b, '}')
			b = appendEscaped(b, suffix)
			prev = ""
		} else {
			b = appendEscaped(b, seg)
			prev = seg
		}
		depth++
	}
	return b
}

// dupName says whether b[s:] is one of the names (places in b).
func dupName(b []byte, s int, names [][2]int) bool {
	for _, n := range names {
		if string(b[n[0]:n[1]]) == string(b[s:]) {
			return true
		}
	}
	return false
}

// appendEscaped appends escapeSegment(s) to b.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		if c := s[i]; isPchar(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// Classify is the typed recognisers' verdict on one path segment (not
// unescaped), for analyzers that key state on templates: anything but
// KindLiteral becomes a parameter in Template. It allocates nothing.
func Classify(seg string) Kind { return classify(seg) }

// Foldable says whether the catalog may fold a literal segment into a
// parameter: API versions and well-known words (me, search, ...) never
// fold. It allocates nothing for an ASCII segment.
func Foldable(seg string) bool { return !exempt(seg) }

// IsVersion says whether a segment names an API version (v1, v2beta1):
// the catalog takes the segments after it for resources, as the first
// segments of a path.
func IsVersion(seg string) bool { return isVersion(seg) }

// GRPCShaped says whether a path looks like a gRPC method
// (/package.Service/Method), whose segments the catalog never folds.
func GRPCShaped(path string) bool { return grpcShaped(path) }
