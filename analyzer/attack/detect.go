package attack

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/apitap/apitap/analyzer/vocab"
)

// Classes the detectors report (CONTRACT.md vocabulary, plus
// prototype_pollution).
const (
	cSQLi = 1 << iota
	cXSS
	cTraversal
	cCmd
	cSSRF
	cLog4Shell
	cXXE
	cSSTI
	cNoSQLi
	cProto
	cCRLF
	cRedirect
	cXPath
	cDeser
	cUpload
	cEvasion
	numClasses = iota
)

var classNames = [numClasses]string{"sqli", "xss", "path_traversal", "cmd_injection", "ssrf", "log4shell", "xxe", "ssti", "nosqli",
	"prototype_pollution", "crlf_injection", "open_redirect", "xpath_ldap_injection", "deserialization", "file_upload", "evasion"}

// ClassNames name the bits of reassembly.Notes.Attacks (package vocab):
// the detector classes (classNames, in the same order), then the classes
// of signatures.
var ClassNames = vocab.AttackClasses

func init() {
	for i, n := range classNames {
		if ClassNames[i] != n {
			panic("attack: classNames and vocab.AttackClasses disagree at " + n)
		}
	}
}

// ClassBit is the Notes.Attacks bit of a class (0 for an unknown one).
func ClassBit(class string) uint32 {
	for i, n := range ClassNames {
		if n == class {
			return 1 << i
		}
	}
	return 0
}

var classSeverity = [numClasses]string{"high", "medium", "high", "critical", "high", "critical", "high", "high", "high", "medium",
	"medium", "medium", "high", "critical", "high", "medium"}

// keywords are the prefilter's patterns: a detector looks at a value only
// when one of its class's keywords occurs (case-insensitively).
var keywords = []struct {
	kw    string
	class int
}{
	{"select", cSQLi}, {"union", cSQLi}, {"insert", cSQLi}, {"update", cSQLi}, {"delete", cSQLi}, {"drop", cSQLi},
	{"sleep", cSQLi}, {"benchmark", cSQLi}, {"waitfor", cSQLi}, {"'", pWeakSQL}, {"--", cSQLi}, {"/*", cSQLi}, {"#", pWeakSQL},
	{" or ", pWeakSQL}, {" and ", pWeakSQL}, {"||", cSQLi}, {"&&", cSQLi}, {"xp_", cSQLi}, {"sp_", cSQLi}, {"exec", cSQLi},
	{"(", pWeakSQL}, {"@@", cSQLi}, {"::", cSQLi}, {"@>", cSQLi}, {"<@", cSQLi}, {"->", cSQLi}, {"\"", pWeakSQL}, {"`", pWeakSQL},
	{"declare", cSQLi}, {"outfile", cSQLi}, {"information_schema", cSQLi},
	{"having", cSQLi}, {"order by", cSQLi}, {"group by", cSQLi}, {"case when", cSQLi}, {"extractvalue", cSQLi}, {"sysobjects", cSQLi},
	{"msdb", cSQLi}, {"tempdb", cSQLi}, {"pg_", cSQLi}, {"msysaccess", cSQLi}, {"northwind", cSQLi}, {" as ", pWeakSQL}, {"from ", pWeakSQL}, {"msdasql", cSQLi}, {"utl_", cSQLi}, {"openrowset", cSQLi}, {".e(", cSQLi}, {".e.", cSQLi}, {"when ", pWeakSQL}, {"and ", pWeakSQL}, {"or ", pWeakSQL}, {"set @", cSQLi}, {"mysql.", cSQLi}, {" like ", pWeakSQL}, {" is not ", pWeakSQL}, {"<=>", cSQLi}, {"<>", cSQLi}, {">=", cSQLi}, {"<=", cSQLi}, {"!=", cSQLi}, {"==", cSQLi}, {"<<", cSQLi}, {">>", cSQLi},
	{"xor", cSQLi}, {"rlike", cSQLi}, {"regexp", cSQLi}, {"is null", cSQLi}, {"in (", cSQLi}, {"create ", cSQLi}, {"alter ", cSQLi}, {"truncate", cSQLi}, {"shutdown", cSQLi},
	{"<", cXSS}, {"javascript", cXSS}, {"vbscript", cXSS}, {"livescript", cXSS}, {"data:", cXSS}, {"expression(", cXSS},
	{" on", cXSS}, {"\"on", cXSS}, {"'on", cXSS}, {"/on", cXSS}, {";on", cXSS}, {"`on", cXSS}, {"+on", cXSS},
	{"alert", cXSS}, {"prompt", cXSS}, {"confirm", cXSS}, {"eval", cXSS}, {"settimeout", cXSS}, {"setinterval", cXSS},
	{"atob", cXSS}, {"btoa", cXSS}, {"document", cXSS}, {"window", cXSS}, {"self[", cXSS}, {"top[", cXSS}, {"constructor", cXSS},
	{"fromcharcode", cXSS}, {"script:", cXSS}, {"formaction", cXSS}, {"srcdoc", cXSS}, {"xlink", cXSS}, {"function(", cXSS}, {"function (", cXSS}, {"adw-", cXSS}, {"+adw-", cXSS}, {"![]", cXSS}, {"+[]", cXSS}, {"[][", cXSS}, {".call`", cXSS},
	{"..", cTraversal}, {"/etc/", cTraversal | cCmd}, {"/proc/", cTraversal}, {"/sys/", cTraversal}, {"/root/", cTraversal},
	{".ssh", cTraversal}, {".aws", cTraversal}, {".docker", cTraversal}, {".kube", cTraversal}, {".git", cTraversal},
	{".env", cTraversal}, {".htaccess", cTraversal}, {".htpasswd", cTraversal}, {"id_rsa", cTraversal}, {"win.ini", cTraversal}, {"boot.ini", cTraversal},
	{"system32", cTraversal}, {"%systemroot%", cTraversal}, {"%windir%", cTraversal}, {"web-inf", cTraversal},
	{"web.config", cTraversal}, {"secrets", cTraversal}, {"serviceaccount", cTraversal}, {"0x2e", cTraversal}, {"0x5c", cTraversal},
	{"c:\\", cTraversal}, {"c:/", cTraversal}, {"file:", cTraversal}, {"wp-config", cTraversal},
	{"/home/", cTraversal}, {"/var/", cTraversal}, {"/usr/", cTraversal}, {".netrc", cTraversal}, {".gnupg", cTraversal},
	{";", cCmd}, {"|", cCmd}, {"`", cCmd}, {"$(", cCmd}, {"&&", cCmd}, {"\n", cCmd}, {"&", cCmd}, {"${", cCmd},
	{"<(", cCmd}, {">(", cCmd}, {"()", cCmd}, {"/bin/", cCmd}, {"/usr/", cCmd}, {"cmd", cCmd}, {"powershell", cCmd},
	{"<!--#", cCmd}, {"system(", cCmd}, {"exec(", cCmd}, {"popen(", cCmd}, {"spawn(", cCmd}, {"subprocess", cCmd},
	{"<<<", cCmd}, {"$", cCmd}, {"\"\"", cCmd}, {"''", cCmd}, {"~", cCmd}, {"!-", cCmd}, {"{", cCmd}, {"/[", cCmd}, {"/dev/", cCmd}, {"$[", cCmd}, {"rundll32", cCmd}, {"certutil", cCmd}, {"mshta", cCmd}, {"regsvr32", cCmd},
	{"wmic", cCmd}, {"bitsadmin", cCmd}, {"child_process", cCmd}, {"getruntime", cCmd}, {"processbuilder", cCmd},
	{"://", cSSRF}, {"localhost", cSSRF}, {"254.", cSSRF}, {"metadata", cSSRF},
	{"${", cLog4Shell}, {"%{", cLog4Shell}, {"jndi", cLog4Shell},
	{"<!doctype", cXXE}, {"<!entity", cXXE},
	{"{{", cSSTI}, {"${", cSSTI}, {"<%", cSSTI}, {"#{", cSSTI}, {"*{", cSSTI}, {"{%", cSSTI},
	{"$ne", cNoSQLi}, {"$gt", cNoSQLi}, {"$lt", cNoSQLi}, {"$regex", cNoSQLi}, {"$where", cNoSQLi}, {"$nin", cNoSQLi},
	{"$exists", cNoSQLi}, {"$or", cNoSQLi}, {"$in", cNoSQLi}, {"$expr", cNoSQLi}, {"$nor", cNoSQLi}, {"$text", cNoSQLi}, {"$eq", cNoSQLi},
	{"__proto__", cProto}, {"prototype", cProto},
	{"\r", cCRLF}, {"\n", cCRLF},
	{"//", cRedirect}, {"\\", cRedirect}, {":/", cRedirect},
	{")(", cXPath}, {") (", cXPath}, {"*)", cXPath}, {"::", cXPath}, {"count(", cXPath}, {"name(", cXPath}, {"(objectclass", cXPath},
	{"text()", cXPath}, {"position()", cXPath}, {"//*", cXPath}, {"(|(", cXPath},
	// deserialization: short words of the markers and gadget names
	// (deserNeedles has them all)
	{"ro0ab", cDeser}, {"aced0005", cDeser}, {"aaeaaad", cDeser}, {"type\"", cDeser}, {"!!", cDeser}, {"!ruby", cDeser},
	{"nd_func", cDeser}, {"transformer", cDeser}, {"provider", cDeser}, {"delegate", cDeser}, {"builder", cDeser}, {"runtime", cDeser},
	{"impl", cDeser}, {"cos\n", cDeser}, {"cposix", cDeser}, {"builtin", cDeser}, {"gasv", cDeser}, {"gaswl", cDeser}, {":{", cDeser},
	{"phar:", cDeser}, {"ysoserial", cDeser}, {"engine", cDeser}, {"loader", cDeser}, {"closure", cDeser}, {"factory", cDeser},
	{"java", cDeser}, {"com.sun", cDeser}, {"org.", cDeser}, {"xwork", cDeser}, {"decoder", cDeser}, {"system.", cDeser},
	{"identity", cDeser}, {"wrapper", cDeser}, {"surrogate", cDeser}, {"formatting", cDeser}, {"groovy", cDeser}, {"c3p0", cDeser},
	{"bsh.", cDeser}, {"struts", cDeser}, {"subprocess", cDeser},
}

// Pseudo-classes of the prefilter: not detectors, but the bytes that make
// a value need normalisation (needsNorm), so that one pass over a value
// both finds its keywords and says whether it must be decoded first.
const (
	pNorm = 1 << (numClasses + iota) // '%', '&', '\\'
	pPlus                            // '+', a space in query and form values
	// pWeakSQL: words and punctuation of SQL that prose has too (and, or,
	// from, as, a parenthesis): they call for the SQL detector unless the
	// value reads as prose
	pWeakSQL
	classBits = 1<<numClasses - 1
)

// normKeywords are the bytes needsNorm looks for, as prefilter keywords.
var normKeywords = []struct {
	kw    string
	class int
}{{"%", pNorm}, {"&", pNorm}, {"\\", pNorm}, {"\xef", pNorm}, {"+", pPlus}}

// prefilter finds which classes' keywords occur in a value in one pass:
// an Aho-Corasick automaton compiled to a full DFA over lower-cased bytes,
// whose states carry the bits of the classes of the keywords ending there.
// (A general Aho-Corasick package cost 350 ns and 5 allocations per short
// value here; this costs about a nanosecond per byte and allocates
// nothing.)
//
// The table is kept small, for the cache lines text visits to be few and
// still cached when the next transaction comes: bytes that occur in no
// keyword share one column and upper-case letters use their lower
// case's, which leaves 55 columns of 256, the bytes common in requests
// first (in a row's first cache line); a transition is 16 bits (the next
// state's number); states are numbered by depth, so that the shallow
// ones text visits most share cache lines; and the states where keywords
// end, which benign text rarely reaches, are numbered last, so that the
// loop only looks their class bits up when it enters one.
type prefilter struct {
	col [256]uint8 // byte -> column
	// next[s<<shift+col[b]] is the transition from state s on byte b:
	// the next state.
	next []uint16
	// states from accept on are those where keywords end; out holds their
	// class bits
	accept uint32
	out    []int
	shift  uint32 // log2 of the row length
}

// commonBytes are the bytes most frequent in requests, most frequent
// first.
const commonBytes = "etaoinsrlcdhupmgfby/.-_ 0123456789:vwkxjqz="

// rowLen is the length of a row (columns, rounded up to a power of two
// for out's index).
const rowLen = 64

func newPrefilter() *prefilter {
	return newAutomaton(append(keywords[:len(keywords):len(keywords)], normKeywords...))
}

// newAutomaton compiles keywords (each with its bits) into a prefilter.
func newAutomaton(all []struct {
	kw    string
	class int
}) *prefilter {
	p := &prefilter{}
	// Column 0 is the bytes of no keyword, the common ones come next.
	var used [256]bool
	for _, k := range all {
		for i := 0; i < len(k.kw); i++ {
			used[lowerTab[k.kw[i]]] = true
		}
	}
	cols := 1
	for _, c := range []byte(commonBytes) {
		if used[c] && p.col[c] == 0 {
			p.col[c] = uint8(cols)
			cols++
		}
	}
	for c := range used {
		if used[c] && p.col[c] == 0 {
			p.col[c] = uint8(cols)
			cols++
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		p.col[c] = p.col[c+'a'-'A']
	}
	// the trie
	next := [][]int{make([]int, cols)}
	out := []int{0}
	for _, k := range all {
		s := 0
		for i := 0; i < len(k.kw); i++ {
			c := p.col[k.kw[i]]
			if next[s][c] == 0 {
				next = append(next, make([]int, cols))
				out = append(out, 0)
				next[s][c] = len(next) - 1
			}
			s = next[s][c]
		}
		out[s] |= k.class
	}
	// failure links, breadth first, folded into a full DFA
	fail := make([]int, len(next))
	bfs := []int{0} // the states by depth: shallow ones, which text visits most, numbered first
	queue := []int{}
	for c := 0; c < cols; c++ {
		if t := next[0][c]; t != 0 {
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		bfs = append(bfs, s)
		out[s] |= out[fail[s]]
		for c := 0; c < cols; c++ {
			t := next[s][c]
			if t != 0 {
				fail[t] = next[fail[s]][c]
				queue = append(queue, t)
			} else {
				next[s][c] = next[fail[s]][c]
			}
		}
	}
	if cols > rowLen || out[0] != 0 {
		panic(fmt.Sprint("attack: prefilter keywords do not fit its table ", cols, len(next)))
	}
	if len(next) > 1<<16 {
		panic("attack: prefilter keywords do not fit its table")
	}
	// rows as short as the columns allow (a power of two)
	row := 1
	for row < cols {
		row *= 2
		p.shift++
	}
	// number the states without class bits first (the start state 0
	// among them), then the others, each by depth
	order := make([]int, len(next)) // state -> its number
	n := 0
	for pass := 0; pass < 2; pass++ {
		for _, s := range bfs {
			if (out[s] != 0) == (pass == 1) {
				order[s] = n
				n++
			}
		}
		if pass == 0 {
			p.accept = uint32(n)
		}
	}
	p.next = make([]uint16, len(next)*row)
	p.out = make([]int, len(next)-int(p.accept))
	for s := range next {
		for c, t := range next[s] {
			p.next[order[s]*row+c] = uint16(order[t])
		}
		if out[s] != 0 {
			p.out[order[s]-int(p.accept)] = out[s]
		}
	}
	return p
}

var lowerTab = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		t[i] = c
	}
	return
}()

// scan returns the bits of the classes whose keywords occur in v, with
// pNorm and pPlus.
func (p *prefilter) scan(v string) int {
	next, col, accept, shift := p.next, &p.col, p.accept, p.shift&31 // in registers for the loop
	bits := 0
	s := uint32(0)
	for i := 0; i < len(v); i++ {
		s = uint32(next[s<<shift+uint32(col[v[i]])])
		if s >= accept {
			bits |= p.out[s-accept]
		}
	}
	return bits
}

// scanGrams is scan that also returns the bigrams of v, for the rules'
// gates (see ruleindex.go). The prefilter's loop waits on each table
// load; the bigrams are computed in its shadow, at next to no cost.
func (p *prefilter) scanGrams(v string) (int, grams) {
	next, col, accept, shift := p.next, &p.col, p.accept, p.shift&31
	bits := 0
	var g grams
	s := uint32(0)
	prev := uint32(0)
	for i := 0; i < len(v); i++ {
		s = uint32(next[s<<shift+uint32(col[v[i]])])
		if s >= accept {
			bits |= p.out[s-accept]
		}
		c := uint32(lowerTab[v[i]])
		if i > 0 {
			g |= bigram(prev, c)
		}
		prev = c
	}
	return bits, g
}

// classes returns the bits of the classes whose keywords occur in v.
func (p *prefilter) classes(v string) int { return p.scan(v) & classBits }

// opaque says whether a value is an encoded blob (base64, a JWT, hex),
// where injection detectors only see noise: long, of the base64 or hex
// alphabet, and mixed like random text (a path or a word of that
// alphabet is not a blob).
func opaque(v string) bool {
	if len(v) < 16 || strings.IndexByte(v, ' ') >= 0 || v[0] == '/' || v[0] == '.' {
		return false
	}
	if strings.HasPrefix(v, "eyJ") && strings.Count(v, ".") == 2 {
		return true
	}
	upper, lower, digit, hexOnly := false, false, false, true
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
			hexOnly = hexOnly && c <= 'f'
		case c >= 'A' && c <= 'Z':
			upper = true
			hexOnly = hexOnly && c <= 'F'
		case c >= '0' && c <= '9':
			digit = true
		case c == '+' || c == '/' || c == '=' || c == '-' || c == '_':
			hexOnly = false
		default:
			return false
		}
	}
	return hexOnly && len(v) >= 32 || upper && lower && digit
}

// sameHost says whether host (lower case, no port) names the server of
// the request whose Host header is self.
func sameHost(host, self string) bool {
	if k := strings.LastIndexByte(self, ':'); k >= 0 && strings.Count(self, ":") == 1 {
		self = self[:k]
	}
	return strings.EqualFold(strings.TrimSuffix(self, "."), host)
}

// urlParams are parameter names whose values the server fetches.
var urlParams = []string{"url", "uri", "callback", "webhook", "redirect", "dest", "next", "image", "img", "link", "feed", "endpoint",
	"host", "proxy", "target", "fetch", "load", "src", "source", "domain", "site", "page", "file", "path", "return", "continue"}

// ssrf finds URLs (or bare hosts in URL-named parameters) that point at
// loopback, link-local, cloud metadata or internal addresses. self is the
// request's Host: an internal name that is the server's own (a same-site
// Referer of an internal application, a return URL on the same site) is
// not a request for the server to fetch somewhere else.
func ssrf(lv, name, self string) (bool, string) {
	i := strings.Index(lv, "://")
	var scheme, rest string
	if i > 0 {
		scheme, rest = lv[:i], lv[i+3:]
		for j := len(scheme) - 1; j >= 0; j-- { // the scheme is the word before ://
			c := scheme[j]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
				scheme = scheme[j+1:]
				break
			}
		}
	} else {
		if !fetchParam(name) {
			return false, ""
		}
		rest = lv
	}
	switch scheme {
	case "gopher", "dict", "ldap", "tftp", "jar", "netdoc":
		return true, "scheme_" + scheme
	case "file":
		return true, "scheme_file"
	}
	host := rest
	if k := strings.IndexAny(host, "/?#\\"); k >= 0 {
		host = host[:k]
	}
	if k := strings.LastIndexByte(host, '@'); k >= 0 {
		host = host[k+1:]
	}
	if strings.HasPrefix(host, "[") {
		if k := strings.IndexByte(host, ']'); k > 0 {
			host = host[1:k]
		}
	} else if k := strings.LastIndexByte(host, ':'); k >= 0 && strings.Count(host, ":") == 1 {
		host = host[:k]
	}
	host = strings.TrimSuffix(host, ".")
	switch {
	case host == "":
		return false, ""
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return true, "loopback_name"
	case host == "metadata.google.internal" || host == "metadata" || host == "instance-data" || host == "metadata.azure.com":
		return true, "cloud_metadata"
	case strings.HasSuffix(host, ".internal") || strings.HasSuffix(host, ".svc.cluster.local") || host == "kubernetes.default.svc" || strings.HasSuffix(host, ".local"):
		if (i > 0 || fetchParam(name)) && !sameHost(host, self) {
			return true, "internal_name"
		}
		return false, ""
	}
	a, ok := parseHostIP(host)
	if !ok {
		return false, ""
	}
	a = a.Unmap()
	switch {
	case a.IsLoopback() || a.IsUnspecified():
		return true, "loopback_address"
	case a == netip.AddrFrom4([4]byte{169, 254, 169, 254}) || a == netip.AddrFrom4([4]byte{100, 100, 100, 200}) || a == netip.MustParseAddr("fd00:ec2::254"):
		return true, "cloud_metadata"
	case a.IsLinkLocalUnicast():
		return true, "link_local_address"
	case a.IsPrivate() && (i > 0 && fetchParam(name) || i < 0):
		return true, "private_address"
	}
	return false, ""
}

func fetchParam(name string) bool {
	if len(name) > 64 {
		return false
	}
	var b [64]byte
	n := b[:copy(b[:], name)]
	for i, c := range n {
		n[i] = lowerTab[c]
	}
	for _, p := range urlParams {
		if len(n) < len(p) {
			continue
		}
		if string(n) == p || len(n) > len(p) && (string(n[len(n)-len(p):]) == p && (n[len(n)-len(p)-1] == '_' || n[len(n)-len(p)-1] == '-') ||
			string(n[:len(p)]) == p && n[len(p)] == '_') {
			return true
		}
	}
	return false
}

// parseHostIP parses an address in the notations resolvers accept:
// dotted with decimal, octal (0177) or hex (0x7f) parts, 1 to 4 parts
// (127.1), a single 32-bit number (2130706433), and IPv6.
func parseHostIP(h string) (netip.Addr, bool) {
	if strings.IndexByte(h, ':') >= 0 {
		a, err := netip.ParseAddr(h)
		return a, err == nil
	}
	parts := strings.Split(h, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base, s := 10, p
		switch {
		case strings.HasPrefix(s, "0x"):
			base, s = 16, s[2:]
		case len(s) > 1 && s[0] == '0':
			base, s = 8, s[1:]
		}
		if s == "" {
			s = "0"
		}
		n, err := strconv.ParseUint(s, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	var v uint64
	switch len(nums) {
	case 1:
		v = nums[0]
	case 2:
		v = nums[0]<<24 | nums[1]&0xffffff
	case 3:
		v = nums[0]<<24 | nums[1]<<16 | nums[2]&0xffff
	case 4:
		v = nums[0]<<24 | nums[1]<<16 | nums[2]<<8 | nums[3]
	}
	for _, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
	}
	if v > 0xffffffff {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// log4shell resolves nested lookups (${lower:j}, ${::-n}, ${env:X:-d})
// and looks for a JNDI lookup, or a lookup that reads the environment
// or the JVM (the probes that leak secrets through DNS).
func log4shell(lv string) (bool, string, int) {
	first := strings.Index(lv, "${")
	if first < 0 {
		first = strings.Index(lv, "$")
		if first < 0 || !strings.Contains(lv, "jndi") {
			return false, "", 0
		}
	}
	s := lv
	for round := 0; round < 16 && strings.Contains(s, "${"); round++ {
		// replace the innermost ${...} that is not jndi itself
		end := strings.IndexByte(s, '}')
		if end < 0 {
			break
		}
		start := strings.LastIndex(s[:end], "${")
		if start < 0 {
			// a } before any ${: look past it
			next := strings.Index(s[end:], "${")
			if next < 0 {
				break
			}
			s = s[:end] + strings.Replace(s[end:], "}", "", 1)
			continue
		}
		inner := s[start+2 : end]
		if strings.HasPrefix(inner, "jndi:") {
			break
		}
		repl := inner
		switch {
		case strings.Contains(inner, ":-"):
			repl = inner[strings.Index(inner, ":-")+2:]
		case strings.HasPrefix(inner, "lower:"), strings.HasPrefix(inner, "upper:"):
			repl = inner[6:]
		case strings.Contains(inner, ":"):
			repl = inner[strings.LastIndexByte(inner, ':')+1:]
		}
		s = s[:start] + repl + s[end+1:]
	}
	if i := strings.Index(s, "${jndi:"); i >= 0 {
		for _, proto := range []string{"ldap", "ldaps", "rmi", "dns", "iiop", "corba", "nds", "nis", "http"} {
			if strings.HasPrefix(s[i+7:], proto+":") {
				return true, "jndi_" + proto, first
			}
		}
		return true, "jndi", first
	}
	// what is left of a lookup around jndi: ${${x:-$}{jndi:ldap://...}},
	// $&lbracejndi:ldap://...
	if i := strings.Index(lv, "jndi:"); i >= 0 {
		rest := lv[i+5:]
		before := lv[max(0, i-16):i]
		if strings.ContainsAny(before, "${") {
			for _, proto := range []string{"ldap", "ldaps", "rmi", "dns", "iiop", "corba", "nds", "nis", "http"} {
				if strings.HasPrefix(rest, proto+":") {
					return true, "jndi_" + proto, first
				}
			}
		}
	}
	for _, l := range []string{"${env:", "${sys:", "${java:", "${ctx:", "${main:", "${k8s:", "${docker:", "${bundle:", "${spring:", "${log4j:", "${jvmrunargs:", "${sd:", "${web:", "${base64:"} {
		if i := strings.Index(lv, l); i >= 0 {
			return true, "lookup_" + l[2:len(l)-1], i
		}
	}
	return false, "", 0
}

// xxe finds a DTD declaring an external entity.
func xxe(lv string) (bool, string) {
	if strings.Contains(lv, "<!doctype") && strings.Contains(lv, "<!entity") && (strings.Contains(lv, "system") || strings.Contains(lv, "public")) {
		return true, "external_entity"
	}
	return false, ""
}

// ssti finds template expressions that compute or reach into objects.
func ssti(lv string) (bool, string, int) {
	for _, d := range [...]struct{ open, close string }{{"{{", "}}"}, {"${", "}"}, {"<%=", "%>"}, {"<%", "%>"}, {"#{", "}"}, {"*{", "}"}, {"{%", "%}"}} {
		for s := lv; ; {
			i := strings.Index(s, d.open)
			if i < 0 {
				break
			}
			j := strings.Index(s[i+len(d.open):], d.close)
			if j < 0 {
				break
			}
			expr := s[i+len(d.open) : i+len(d.open)+j]
			if templateExpr(expr) {
				return true, "expression_" + strings.Trim(d.open, "{<%"), len(lv) - len(s) + i
			}
			s = s[i+len(d.open)+j:]
		}
	}
	return false, "", 0
}

// templateExpr says whether a template expression is a probe or a
// payload rather than a variable name.
func templateExpr(e string) bool {
	e = strings.TrimSpace(e)
	for _, k := range []string{"__class__", "__mro__", "__subclasses__", "__globals__", "__builtins__", "__import__", "config.items", "self.", "lipsum", "cycler",
		"joiner", "namespace", "request.application", "t(java", "getruntime", "class.forname", "freemarker", "new(", "exec(", "system(", "popen", "constructor"} {
		if strings.Contains(e, k) {
			return true
		}
	}
	// arithmetic probes: 7*7, 7*'7', 1337+1
	digitsBefore, op := false, false
	for i := 0; i < len(e); i++ {
		c := e[i]
		switch {
		case c >= '0' && c <= '9':
			if op {
				return digitsBefore
			}
			digitsBefore = true
		case c == '*' || c == '+' || c == '/' || c == '-':
			if !digitsBefore {
				return false
			}
			op = true
		case c == ' ' || c == '\'' || c == '"':
		default:
			return false
		}
	}
	return false
}

// mongoOps are MongoDB query operators that have no place in user input.
var mongoOps = map[string]bool{"$ne": true, "$gt": true, "$gte": true, "$lt": true, "$lte": true, "$in": true, "$nin": true, "$regex": true,
	"$where": true, "$exists": true, "$or": true, "$and": true, "$not": true, "$expr": true, "$elemmatch": true, "$function": true,
	"$nor": true, "$text": true, "$all": true, "$size": true, "$mod": true, "$jsonschema": true, "$accumulator": true, "$eq": true}

// nosqliKey finds an operator in a JSON key or a bracketed query name.
func nosqliKey(k string) (bool, string) {
	lk := strings.ToLower(k)
	if mongoOps[lk] {
		return true, "operator_" + lk[1:]
	}
	if i := strings.Index(lk, "[$"); i >= 0 {
		op := lk[i+1:]
		if j := strings.IndexByte(op, ']'); j > 0 {
			op = op[:j]
		}
		if mongoOps[op] {
			return true, "operator_" + op[1:]
		}
	}
	return false, ""
}

// protoKey finds prototype pollution in a key or parameter name.
func protoKey(k string) (bool, string) {
	lk := strings.ToLower(k)
	switch {
	case strings.Contains(lk, "__proto__"):
		return true, "proto"
	case strings.Contains(lk, "constructor") && strings.Contains(lk, "prototype"):
		return true, "constructor_prototype"
	}
	return false, ""
}

// needles finds which of a list of strings occur in a value with one
// pass of an automaton (the prefilter's construction, a bit per needle,
// needles 64 apart sharing a bit) instead of a search per needle.
type needles struct {
	list []string
	// ac is built on first use: the lists are package variables, and a
	// process that never examines an input (apitap version, config check,
	// a read with the analyzer off) should not pay for their automata at
	// start-up.
	ac func() *prefilter
}

func newNeedles(list ...string) *needles {
	return &needles{list: list, ac: sync.OnceValue(func() *prefilter {
		kws := make([]struct {
			kw    string
			class int
		}, len(list))
		for i, s := range list {
			kws[i].kw, kws[i].class = s, 1<<(i%63)
		}
		return newAutomaton(kws)
	})}
}

// first returns the index in the list of the first needle (in list
// order) that occurs in lv (lower case), with its position; -1, -1 when
// none does.
func (n *needles) first(lv string) (int, int) {
	bits := n.ac().scan(lv)
	if bits == 0 {
		return -1, -1
	}
	for i, s := range n.list {
		if bits&(1<<(i%63)) != 0 {
			if j := strings.Index(lv, s); j >= 0 {
				return i, j
			}
		}
	}
	return -1, -1
}

// any says whether a needle occurs in lv.
func (n *needles) any(lv string) bool {
	i, _ := n.first(lv)
	return i >= 0
}
