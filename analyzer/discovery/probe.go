package discovery

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apitap/apitap/analyzer/vocab"
)

// probeClass says why a request is a probe rather than an API call: its
// path carries payload syntax, the attack analyzer flagged it, or a
// scanner asked for a path nothing answered. Probes never make catalog
// nodes: they are counted on the nearest existing template.
type probeClass uint8

// Probe classes found from the path's syntax (the attack analyzer's
// verdicts are counted under their own class names, see probeKey).
const (
	probeNone probeClass = iota
	probeSQLi
	probeXSS
	probeTraversal
	probeCmd
	probeJNDI
	probeTemplate
	probeEncoding // malformed, double or overlong escapes, control bytes
	probePayload  // other payload syntax (quotes, braces, backslashes)
	probeScanner  // a scanner's request that only got an error
	probeMethod   // an unknown method that only got an error
	probeSSRF     // a URL scheme as a segment (http:, file:, gopher:)
	numProbeClasses
)

var probeNames = [numProbeClasses]string{"", "sqli", "xss", "path_traversal", "cmd_injection", "log4shell", "ssti", "evasion", "payload", "scanner", "method", "ssrf"}

// probeVerdict is the tally key offset of probes flagged by the attack
// analyzer: key probeVerdict+i counts Notes.Attacks bit i.
const probeVerdict = 64

// probeKeyName names a tProbe key.
func probeKeyName(k uint32) string {
	if k < probeVerdict {
		if int(k) < len(probeNames) {
			return probeNames[k]
		}
		return "payload"
	}
	if i := int(k - probeVerdict); i < len(vocab.AttackClasses) {
		return vocab.AttackClasses[i]
	}
	return "attack"
}

// segSafe holds the bytes a path segment of an API carries without any
// suspicion (unreserved characters and the sub-delimiters APIs use).
var segSafe = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!$&()*,=:@" {
		t[c] = true
	}
	return
}()

// pathPlain holds the bytes of paths that need no closer look: segSafe
// without '.' (dot pairs are checked apart) and the characters that start
// code (( ) : = & $), and '/'.
var pathPlain = func() (t [256]bool) {
	t = segSafe
	for _, c := range "().:=&$" {
		t[c] = false
	}
	t['/'] = true
	return
}()

// ProbePath says whether a request path carries payload syntax (in a
// segment, or files attackers read across segments): for other analyzers
// that must not take a probe for an endpoint (conformance).
func ProbePath(p string) bool { return probePath(p) != probeNone }

// IsInfrastructure says whether a path is a health check, readiness or
// liveness probe or a metrics endpoint (kind "health" in the catalog).
func IsInfrastructure(p string) bool {
	last := ""
	Segments(p, func(seg string) bool { last = seg; return true })
	return healthNames[strings.ToLower(last)]
}

// ProbeSegment is probeSegment for other analyzers (conformance): it says
// whether one path segment or parameter name (not unescaped) carries
// payload syntax that no API identifier has.
func ProbeSegment(seg string) bool { return probeSegment(seg) != probeNone }

// probeSegment finds payload syntax in one path segment (not unescaped):
// quotes, angle brackets, traversal, encoded or raw backslashes, command
// and template syntax, SQL keywords between separators, malformed,
// double or overlong escapes and control bytes. Identifiers of real APIs
// (slugs, tokens, file names, refs such as main...develop, encoded
// slashes as in group%2Fproject, spaces and non-ASCII letters) pass. It
// allocates only for segments that are not plain.
func probeSegment(seg string) probeClass {
	plain := true
	dots := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !segSafe[c] {
			plain = false
			break
		}
		if c == '.' {
			dots++
		}
	}
	if plain {
		if dots == len(seg) && dots >= 2 {
			return probeTraversal // .. and the .... of ....// evasions
		}
		if strings.ContainsAny(seg, "():=&$") {
			return syntaxProbe(seg) // sleep(5), javascript:alert(1), http:
		}
		return probeNone
	}
	v, bad := unescapeProbe(seg)
	if bad {
		return probeEncoding
	}
	if strings.IndexByte(v, '%') >= 0 {
		// an escape inside an escape: decode once more
		if v2, bad2 := unescapeProbe(v); !bad2 && v2 != v && probeText(v2) != probeNone {
			return probeEncoding
		}
	}
	return probeText(v)
}

// probeText classifies a decoded segment.
func probeText(v string) probeClass {
	if v == "" {
		return probeNone
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return probeEncoding
		}
	}
	if !utf8.ValidString(v) {
		return probeEncoding // overlong encodings (%c0%ae) and junk
	}
	if strings.Trim(v, ".") == "" && len(v) >= 2 || strings.Contains(v, "../") || strings.Contains(v, "..\\") || strings.Contains(v, "/..") || strings.Contains(v, "\\..") ||
		v[0] == '/' || v[0] == '\\' {
		return probeTraversal
	}
	switch {
	case strings.Contains(v, "${") && (strings.Contains(strings.ToLower(v), "jndi") || strings.Contains(v, "${${") || strings.Contains(v, ":-")):
		return probeJNDI
	case strings.Contains(v, "{{") || strings.Contains(v, "${") || strings.Contains(v, "<%") || strings.Contains(v, "#{"):
		return probeTemplate
	case strings.ContainsAny(v, "<>"):
		return probeXSS
	case strings.Contains(v, "$(") || strings.ContainsAny(v, "`|"):
		return probeCmd
	case strings.ContainsAny(v, "'\""):
		return probeSQLi
	case strings.IndexByte(v, '\\') >= 0:
		return probeTraversal
	case strings.ContainsAny(v, "{};[]"):
		return probePayload
	}
	return syntaxProbe(v)
}

// urlSchemes are schemes whose appearance as a path segment (http:,
// file:) is a URL pasted into the path: SSRF and file inclusion probes.
var urlSchemes = map[string]bool{"http": true, "https": true, "ftp": true, "file": true, "gopher": true, "dict": true, "ldap": true,
	"php": true, "data": true, "jar": true, "expect": true, "phar": true, "zip": true, "glob": true, "irc": true, "xri": true, "url": true,
	"jndi": true, "netdoc": true, "sftp": true, "tftp": true}

// syntaxProbe looks for code in a decoded segment without special
// characters: a function call (sleep(5), bzdecompress()), a URL scheme,
// doubled sigils ($$), and payload words between separators.
func syntaxProbe(v string) probeClass {
	if i := strings.IndexByte(v, ':'); i > 0 {
		if urlSchemes[strings.ToLower(v[:i])] {
			return probeSSRF
		}
	}
	if strings.Contains(v, "$$") {
		return probePayload
	}
	if i := strings.Index(v, "=="); i >= 0 && strings.TrimRight(v[i:], "=") != "" {
		return probePayload // a comparison (base64 padding ends a value)
	}
	if v[len(v)-1] == ':' && isScheme(v[:len(v)-1]) {
		return probeSSRF // ssh2.tunnel:, a URL cut at its slashes
	}
	if hostPort(v) {
		return probeSSRF // 10.0.0.1:25
	}
	for i := 0; i < len(v); i++ {
		if v[i] != '(' || strings.IndexByte(v[i:], ')') < 0 {
			continue
		}
		if i == 0 || v[i-1] >= 'a' && v[i-1] <= 'z' || v[i-1] >= 'A' && v[i-1] <= 'Z' || v[i-1] == ')' || v[i-1] == ' ' {
			if k := keywordProbe(v); k != probeNone {
				return k
			}
			return probePayload // a function call or a filter: identifiers have none
		}
	}
	return keywordProbe(v)
}

// isScheme says whether s is a URL scheme (letters, digits, + . -).
func isScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// hostPort says whether s is an IPv4 address with a port (an address
// alone is a fine identifier: floating IPs).
func hostPort(s string) bool {
	h, port, ok := strings.Cut(s, ":")
	if !ok || port == "" || !isDecimalInt(port) {
		return false
	}
	return isIPv4([]byte(h))
}

// probeWords are payload fragments that identifiers never hold (matched
// in lower case, with spaces, '+' and SQL comments as separators).
var probeWords = []struct {
	w string
	c probeClass
}{
	{"union select", probeSQLi}, {"union all select", probeSQLi}, {"select ", probeSQLi}, {" or 1=1", probeSQLi},
	{" and 1=1", probeSQLi}, {" or 1=", probeSQLi}, {" or (1", probeSQLi}, {" and (1", probeSQLi}, {"' or", probeSQLi}, {"sleep(", probeSQLi}, {"benchmark(", probeSQLi},
	{"waitfor delay", probeSQLi}, {"drop table", probeSQLi}, {"insert into", probeSQLi}, {"xp_cmdshell", probeSQLi},
	{"@@version", probeSQLi}, {"information_schema", probeSQLi}, {"pg_sleep", probeSQLi}, {" order by ", probeSQLi},
	{"--", probeSQLi}, {"/*", probeSQLi}, {"*/", probeSQLi},
	{"alert(", probeXSS}, {"prompt(", probeXSS}, {"confirm(", probeXSS}, {"javascript:", probeXSS}, {"onerror=", probeXSS}, {"onload=", probeXSS},
	{"/bin/", probeCmd}, {"cmd.exe", probeCmd}, {"powershell", probeCmd}, {"&&", probeCmd}, {"wget ", probeCmd}, {"curl ", probeCmd},
	{"sh -c", probeCmd}, {"cmd /c", probeCmd}, {"whoami", probeCmd}, {"uname -", probeCmd}, {"nc -", probeCmd}, {"ping -", probeCmd},
	{"nslookup ", probeCmd}, {"cat /", probeCmd}, {"echo ", probeCmd},
	{"etc/passwd", probeTraversal}, {"win.ini", probeTraversal}, {"/etc/", probeTraversal}, {"c:\\", probeTraversal},
}

// keywordProbe looks for payload words in a value that has separators
// (spaces, '+', parentheses, '/', ':' or '=').
func keywordProbe(v string) probeClass {
	if !strings.ContainsAny(v, " +()/:=&-") {
		return probeNone
	}
	l := strings.ToLower(strings.ReplaceAll(v, "+", " "))
	l = strings.ReplaceAll(l, "/**/", " ")
	for strings.Contains(l, " (") {
		l = strings.ReplaceAll(l, " (", "(") // sleep (10) is sleep(10)
	}
	if i := strings.IndexAny(l, " "); i > 0 && isDecimalInt(l[:i]) {
		// a number and an SQL operator: 9999 or ..., 1 and ...
		rest := strings.TrimLeft(l[i:], " ")
		for _, op := range []string{"or ", "or(", "and ", "and(", "union", "having ", "like ", "order ", "group "} {
			if strings.HasPrefix(rest, op) || rest == strings.TrimSpace(op) {
				return probeSQLi
			}
		}
	}
	for _, p := range probeWords {
		if strings.Contains(l, p.w) {
			if p.w == "--" && !strings.HasSuffix(strings.TrimSpace(l), "--") {
				continue // a comment ends the payload; dashes inside names are fine
			}
			if p.w == "select " && !strings.Contains(l, " from") {
				continue
			}
			return p.c
		}
	}
	return probeNone
}

// unescapeProbe percent-decodes s; bad reports a malformed escape.
func unescapeProbe(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return s, true
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// probePath returns the first probe class found in a path's segments, or
// in the path as a whole: files attackers read (etc/passwd, .ssh/)
// spread over several segments.
func probePath(p string) probeClass {
	c, _ := probePathDot(p)
	return c
}

// probePathDot is probePath that also says whether p may hold a dot
// (false only when it has none).
func probePathDot(p string) (probeClass, bool) {
	// the common case in one pass: plain bytes, no dot pairs, no
	// characters that start code (most API paths). The pass also notes
	// whether sensitivePath can match: its quick test wants a dot, or
	// etc/, proc/ or ystem32/, which all have "c/" or "2/".
	plain, file, dot := true, false, false
	for i := 0; i < len(p) && plain; i++ {
		switch pathClass[p[i]] {
		case pcPlain:
		case pcSlash:
			file = file || i > 0 && (p[i-1] == 'c' || p[i-1] == '2')
		case pcDot:
			file, dot = true, true
			plain = i+1 == len(p) || p[i+1] != '.'
		default:
			plain = false
		}
	}
	c := probeNone
	if !plain {
		file, dot = true, true // (the pass stopped early)
		Segments(p, func(seg string) bool {
			c = probeSegment(seg)
			return c == probeNone
		})
	}
	if c == probeNone && file && sensitivePath(p) {
		return probeTraversal, dot
	}
	return c, dot
}

// Classes of path bytes for probePath.
const (
	pcPlain = iota // in pathPlain, not '/'
	pcSlash
	pcDot
	pcOther
)

var pathClass = func() (t [256]uint8) {
	for c := range t {
		if !pathPlain[c] {
			t[c] = pcOther
		}
	}
	t['/'], t['.'] = pcSlash, pcDot
	return
}()

// sensitivePath says whether a path names a file attackers read.
func sensitivePath(p string) bool {
	if strings.IndexByte(p, '.') < 0 && !strings.Contains(p, "etc/") && !strings.Contains(p, "proc/") && !strings.Contains(p, "ystem32/") {
		return false
	}
	l := strings.ToLower(p)
	for _, f := range sensitiveFiles {
		if strings.Contains(l, f) {
			return true
		}
	}
	return false
}

// sensitiveFiles are files path traversal and inclusion probes ask for.
var sensitiveFiles = []string{"etc/passwd", "etc/shadow", "etc/hosts", "etc/group", "etc/issue", "proc/self/", "win.ini", "boot.ini",
	"system32/", ".ssh/", "id_rsa", ".aws/credentials", ".docker/", ".kube/config", "web-inf/web.xml", "wp-config.php", ".htpasswd"}

// standardMethods are the methods of HTTP and WebDAV that APIs answer.
var standardMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true, "OPTIONS": true, "TRACE": true, "CONNECT": true,
	"PROPFIND": true, "PROPPATCH": true, "MKCOL": true, "COPY": true, "MOVE": true, "LOCK": true, "UNLOCK": true, "REPORT": true, "SEARCH": true,
}

// actorWindow is how long a client flagged by the attack analyzer (a
// scanner User-Agent or an injection), or by its own misses, counts as a
// scanner.
const actorWindow = time.Hour

// actorSlots bounds the table of flagged clients (a power of two).
const actorSlots = 4096

// actorSlot is one client: the hash of its address (clientHash), the
// capture time it was last flagged as a scanner (0: never), and its
// misses (errors on paths the catalog does not know) since missAt.
type actorSlot struct {
	h      uint32
	misses uint32
	at     int64
	missAt int64
}

// scannerMisses is how many errors on unknown paths within actorWindow
// make a client a scanner for the catalog (legitimate clients miss on
// known templates: /users/{id} for an id that is gone).
const scannerMisses = 4

// slot returns the table slot of a client hash, emptied for it when
// another client held it (the table is direct-mapped: a newer client
// replaces an older one).
func (t *trie) slot(h uint32) *actorSlot {
	s := &t.actors[h&(actorSlots-1)]
	if s.h != h {
		*s = actorSlot{h: h}
	}
	return s
}

// flag remembers a client the attack analyzer flagged.
func (t *trie) flag(a netip.Addr, at time.Time) { t.slot(clientHash(a)).at = at.UnixNano() }

// miss counts an error answered to a client on a path the catalog does
// not know; scannerMisses of them within actorWindow flag it.
func (t *trie) miss(a netip.Addr, at time.Time) {
	s := t.slot(clientHash(a))
	ns := at.UnixNano()
	if ns-s.missAt >= int64(actorWindow) {
		s.misses, s.missAt = 0, ns
	}
	s.misses++
	if s.misses >= scannerMisses {
		s.at = ns
	}
}

// flagged says whether a client was flagged within actorWindow of at.
func (t *trie) flagged(a netip.Addr, at time.Time) bool {
	h := clientHash(a)
	s := t.actors[h&(actorSlots-1)]
	d := at.UnixNano() - s.at
	return s.h == h && s.at != 0 && d < int64(actorWindow) && d > -int64(actorWindow)
}

// everFlagged says whether the client of a hash is in the table as a
// scanner.
func (t *trie) everFlagged(h uint32) bool {
	s := t.actors[h&(actorSlots-1)]
	return s.h == h && s.at != 0
}

func isDecimalInt(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			if !(i == 0 && s[i] == '-' && len(s) > 1) {
				return false
			}
		}
	}
	return true
}
