package attack

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/corazawaf/libinjection-go"

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
	numClasses = iota
)

var classNames = [numClasses]string{"sqli", "xss", "path_traversal", "cmd_injection", "ssrf", "log4shell", "xxe", "ssti", "nosqli", "prototype_pollution"}

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

var classSeverity = [numClasses]string{"high", "medium", "high", "critical", "high", "critical", "high", "high", "high", "medium"}

// keywords are the prefilter's patterns: a detector looks at a value only
// when one of its class's keywords occurs (case-insensitively).
var keywords = []struct {
	kw    string
	class int
}{
	{"select", cSQLi}, {"union", cSQLi}, {"insert", cSQLi}, {"update", cSQLi}, {"delete", cSQLi}, {"drop", cSQLi},
	{"sleep", cSQLi}, {"benchmark", cSQLi}, {"waitfor", cSQLi}, {"'", cSQLi}, {"--", cSQLi}, {"/*", cSQLi},
	{" or ", cSQLi}, {" and ", cSQLi}, {"||", cSQLi}, {"xp_", cSQLi}, {"exec", cSQLi}, {"1=1", cSQLi}, {"convert(", cSQLi}, {"@@", cSQLi},
	{"having", cSQLi}, {"order by", cSQLi}, {"group by", cSQLi}, {"case when", cSQLi}, {"extractvalue", cSQLi},
	{"<", cXSS}, {"javascript:", cXSS}, {"vbscript:", cXSS}, {"onerror", cXSS}, {"onload", cXSS}, {"expression(", cXSS},
	{"data:text/html", cXSS}, {"onmouse", cXSS}, {"onfocus", cXSS}, {"alert(", cXSS}, {"prompt(", cXSS},
	{"..", cTraversal}, {"/etc/", cTraversal}, {"\\windows\\", cTraversal}, {"/proc/self", cTraversal}, {"win.ini", cTraversal},
	{"boot.ini", cTraversal}, {"web-inf", cTraversal}, {".ssh/", cTraversal},
	{";", cCmd}, {"|", cCmd}, {"`", cCmd}, {"$(", cCmd}, {"&&", cCmd}, {"\n", cCmd}, {"&", cCmd},
	{"://", cSSRF}, {"localhost", cSSRF}, {"169.254.", cSSRF}, {"metadata", cSSRF},
	{"${", cLog4Shell}, {"%{", cLog4Shell},
	{"<!doctype", cXXE}, {"<!entity", cXXE},
	{"{{", cSSTI}, {"${", cSSTI}, {"<%", cSSTI}, {"#{", cSSTI}, {"*{", cSSTI},
	{"$ne", cNoSQLi}, {"$gt", cNoSQLi}, {"$lt", cNoSQLi}, {"$regex", cNoSQLi}, {"$where", cNoSQLi}, {"$nin", cNoSQLi},
	{"$exists", cNoSQLi}, {"$or", cNoSQLi}, {"$in", cNoSQLi}, {"$expr", cNoSQLi},
	{"__proto__", cProto}, {"prototype", cProto},
}

// Pseudo-classes of the prefilter: not detectors, but the bytes that make
// a value need normalisation (needsNorm), so that one pass over a value
// both finds its keywords and says whether it must be decoded first.
const (
	pNorm     = 1 << (numClasses + iota) // '%', '&', '\\'
	pPlus                                // '+', a space in query and form values
	classBits = 1<<numClasses - 1
)

// normKeywords are the bytes needsNorm looks for, as prefilter keywords.
var normKeywords = []struct {
	kw    string
	class int
}{{"%", pNorm}, {"&", pNorm}, {"\\", pNorm}, {"+", pPlus}}

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
// first (in a row's first cache line); a transition is 16 bits; and the
// states where keywords end, which benign text rarely reaches, are
// numbered last, so that the loop only looks their class bits up when it
// enters one.
type prefilter struct {
	col [256]uint8 // byte -> column
	// next[s+col[b]] is the transition from the state whose row starts at
	// s on byte b: the next state's row. Rows are stored as offsets of
	// rowLen entries, which saves a multiplication per byte.
	next []uint16
	// rows from accept on are those of states where keywords end; out
	// holds their class bits, by row
	accept uint32
	out    []int
}

// commonBytes are the bytes most frequent in requests, most frequent
// first.
const commonBytes = "etaoinsrlcdhupmgfby/.-_ 0123456789:vwkxjqz="

// rowLen is the length of a row (columns, rounded up to a power of two
// for out's index).
const rowLen = 64

func newPrefilter() *prefilter {
	p := &prefilter{}
	all := append(keywords[:len(keywords):len(keywords)], normKeywords...)
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
	queue := []int{}
	for c := 0; c < cols; c++ {
		if t := next[0][c]; t != 0 {
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
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
	if cols > rowLen || len(next)*rowLen > 1<<16 || out[0] != 0 {
		panic("attack: prefilter keywords do not fit its table")
	}
	// number the states without class bits first (the start state 0
	// among them), then the others
	order := make([]int, len(next)) // state -> its row
	n := 0
	for pass := 0; pass < 2; pass++ {
		for s := range next {
			if (out[s] != 0) == (pass == 1) {
				order[s] = n
				n++
			}
		}
		if pass == 0 {
			p.accept = uint32(n * rowLen)
		}
	}
	p.next = make([]uint16, len(next)*rowLen)
	p.out = make([]int, len(next)-int(p.accept/rowLen))
	for s := range next {
		for c, t := range next[s] {
			p.next[order[s]*rowLen+c] = uint16(order[t] * rowLen)
		}
		if out[s] != 0 {
			p.out[order[s]-int(p.accept/rowLen)] = out[s]
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
	next, col, accept := p.next, &p.col, p.accept // in registers for the loop
	bits := 0
	s := uint32(0)
	for i := 0; i < len(v); i++ {
		s = uint32(next[s+uint32(col[v[i]])])
		if s >= accept {
			bits |= p.out[(s-accept)/rowLen]
		}
	}
	return bits
}

// scanGrams is scan that also returns the bigrams of v, for the rules'
// gates (see ruleindex.go). The prefilter's loop waits on each table
// load; the bigrams are computed in its shadow, at next to no cost.
func (p *prefilter) scanGrams(v string) (int, grams) {
	next, col, accept := p.next, &p.col, p.accept
	bits := 0
	var g grams
	s := uint32(0)
	prev := uint32(0)
	for i := 0; i < len(v); i++ {
		s = uint32(next[s+uint32(col[v[i]])])
		if s >= accept {
			bits |= p.out[(s-accept)/rowLen]
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
// where injection detectors only see noise.
func opaque(v string) bool {
	if len(v) < 16 || strings.IndexByte(v, ' ') >= 0 {
		return false
	}
	if strings.HasPrefix(v, "eyJ") && strings.Count(v, ".") == 2 {
		return true
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sqli runs libinjection's SQL tokenizer.
func sqli(v string) (bool, string) {
	if len(v) > 4096 {
		v = v[:4096]
	}
	ok, fp := libinjection.IsSQLi(v)
	return ok, fp
}

// xss runs libinjection's HTML5 tokenizer.
func xss(v string) bool {
	if len(v) > 4096 {
		v = v[:4096]
	}
	return libinjection.IsXSS(v)
}

// scriptURL finds javascript:, vbscript: and data:text/html URLs, with
// the white space and control characters browsers ignore removed.
func scriptURL(lv string) bool {
	var b [32]byte
	n := 0
	for i := 0; i < len(lv) && n < len(b); i++ {
		if c := lv[i]; c > ' ' {
			b[n] = c
			n++
		}
	}
	s := string(b[:n])
	return strings.HasPrefix(s, "javascript:") || strings.HasPrefix(s, "vbscript:") || strings.HasPrefix(s, "data:text/html")
}

// sensitiveFiles are targets of traversal and file inclusion.
var sensitiveFiles = []string{"etc/passwd", "etc/shadow", "etc/hosts", "win.ini", "boot.ini", "system32", "proc/self", "web-inf/web.xml",
	".ssh/", ".aws/credentials", ".env", "web.config", "etc/issue", ".htpasswd", "id_rsa"}

// traversal finds ../ sequences that climb (or target sensitive files).
func traversal(lv string) (bool, string) {
	lv = strings.ReplaceAll(lv, "\\", "/")
	ups := strings.Count(lv, "../") + strings.Count(lv, "..;/")
	if strings.HasSuffix(lv, "/..") || lv == ".." {
		ups++
	}
	target := false
	for _, f := range sensitiveFiles {
		if strings.Contains(lv, f) {
			target = true
			break
		}
	}
	switch {
	case ups >= 2:
		return true, "dot_dot_slash"
	case ups == 1 && target:
		return true, "dot_dot_slash_target"
	case target && (strings.HasPrefix(lv, "/etc/") || strings.HasPrefix(lv, "c:/") || strings.HasPrefix(lv, "file:") || strings.HasPrefix(lv, "/proc/") ||
		strings.Contains(lv, "/etc/passwd") || strings.Contains(lv, "/etc/shadow") || strings.Contains(lv, "/proc/self/")):
		return true, "absolute_sensitive_path"
	}
	return false, ""
}

// Shell commands: strong ones are flagged after any separator; weak ones
// (words that occur in prose) need an argument that looks like a shell's.
var strongCmds = []string{"whoami", "uname", "wget", "curl", "ncat", "nc", "bash", "/bin/sh", "/bin/bash", "sh", "powershell", "cmd.exe",
	"ifconfig", "ipconfig", "nslookup", "python", "python3", "perl", "php", "ruby", "busybox", "telnet", "chmod", "passwd", "net user", "certutil", "xterm", "/usr/bin/"}
var weakCmds = []string{"cat", "ls", "id", "echo", "sleep", "ping", "rm", "type", "dir", "more", "head", "tail", "env", "set", "pwd", "uname", "kill"}

// cmdInjection finds a shell separator followed by a command.
func cmdInjection(lv string) (bool, string) {
	for i := 0; i < len(lv); i++ {
		c := lv[i]
		var rest string
		switch {
		case c == ';' || c == '|' || c == '\n' || c == '`':
			rest = lv[i+1:]
		case c == '&' && i+1 < len(lv) && lv[i+1] == '&':
			rest = lv[i+2:]
		case c == '&':
			rest = lv[i+1:]
		case c == '$' && i+1 < len(lv) && lv[i+1] == '(':
			rest = lv[i+2:]
		default:
			continue
		}
		rest = strings.TrimLeft(rest, " \t|&")
		for _, cmd := range strongCmds {
			if hasWord(rest, cmd) {
				return true, "separator_" + strings.TrimPrefix(cmd, "/bin/")
			}
		}
		for _, cmd := range weakCmds {
			if hasWord(rest, cmd) && shellArg(rest[len(cmd):]) {
				return true, "separator_" + cmd
			}
		}
	}
	return false, ""
}

// hasWord says whether s starts with word followed by a word boundary.
func hasWord(s, word string) bool {
	if !strings.HasPrefix(s, word) {
		return false
	}
	if len(s) == len(word) {
		return true
	}
	c := s[len(word)]
	return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_')
}

// shellArg says whether what follows a weak command looks like a shell
// argument: nothing, an option, a path, a variable, a number, a quote or
// another separator.
func shellArg(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ' ' && s[0] != '\t' && s[0] != '$' && s[0] != '`' && s[0] != ';' && s[0] != '|' && s[0] != '&' && s[0] != ')' && s[0] != '\'' {
		return false
	}
	s = strings.TrimLeft(s, " \t")
	if s == "" {
		return true
	}
	c := s[0]
	return c == '-' || c == '/' || c == '$' || c == '~' || c == '.' || c == '\'' || c == '"' || c == '`' || c == ';' || c == '|' || c == '&' || c == ')' || c >= '0' && c <= '9'
}

// urlParams are parameter names whose values the server fetches.
var urlParams = []string{"url", "uri", "callback", "webhook", "redirect", "dest", "next", "image", "img", "link", "feed", "endpoint",
	"host", "proxy", "target", "fetch", "load", "src", "source", "domain", "site", "page", "file", "path", "return", "continue"}

// ssrf finds URLs (or bare hosts in URL-named parameters) that point at
// loopback, link-local, cloud metadata or internal addresses.
func ssrf(lv, name string) (bool, string) {
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
		if i > 0 || fetchParam(name) {
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
	n := strings.ToLower(name)
	for _, p := range urlParams {
		if n == p || strings.HasSuffix(n, "_"+p) || strings.HasPrefix(n, p+"_") || strings.HasSuffix(n, p) && len(n) > len(p) && n[len(n)-len(p)-1] == '-' {
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
// and looks for a JNDI lookup.
func log4shell(lv string) (bool, string) {
	if !strings.Contains(lv, "${") {
		return false, ""
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
			break
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
	s = strings.ToLower(s)
	if i := strings.Index(s, "${jndi:"); i >= 0 {
		for _, proto := range []string{"ldap", "ldaps", "rmi", "dns", "iiop", "corba", "nds", "nis", "http"} {
			if strings.HasPrefix(s[i+7:], proto+":") {
				return true, "jndi_" + proto
			}
		}
		return true, "jndi"
	}
	return false, ""
}

// xxe finds a DTD declaring an external entity.
func xxe(lv string) (bool, string) {
	if strings.Contains(lv, "<!doctype") && strings.Contains(lv, "<!entity") && (strings.Contains(lv, "system") || strings.Contains(lv, "public")) {
		return true, "external_entity"
	}
	return false, ""
}

// ssti finds template expressions that compute or reach into objects.
func ssti(lv string) (bool, string) {
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
				return true, "expression_" + strings.Trim(d.open, "{<%")
			}
			s = s[i+len(d.open)+j:]
		}
	}
	return false, ""
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
	"$where": true, "$exists": true, "$or": true, "$and": true, "$not": true, "$expr": true, "$elemmatch": true, "$function": true}

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
