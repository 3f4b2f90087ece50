package discovery

import (
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer/graphql/gqlreq"
	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/analyzer/vocab"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// node is one path position of a host's trie: a literal segment or a
// parameter child of its parent (bare, or with an extension such as
// {sid}.json). Templates are decided on a view (view.go); the trie folds
// literal values into the parameter itself only when a position holds
// fold_max_literals of them, and otherwise only bounds itself.
type node struct {
	seg      string
	parent   *node
	kids     []*node    // literal children, sorted by seg
	params   []*node    // parameter children, sorted by suffix ("" first)
	eps      []*epStats // by method, sorted
	suffix   string     // parameter nodes: the extension their values carry (".json")
	prefixes []string   // parameter nodes: type prefixes of token values (cus_, inv_)
	hits     uint64     // observations that passed through or ended here
	kinds    uint16     // parameter nodes: bits of Kind that went to it
	depth    uint8      // segments above it (capped)
	param    bool
	overflow bool // literal bound reached: new literals go to the parameter
	folded   bool // literal values were folded into the parameter
	fixed    bool // a segment of a gRPC method path: never folded (grpc.go)
}

// kid returns the literal child seg, or where it would go.
func (n *node) kid(seg string) (*node, int) {
	lo, hi := 0, len(n.kids)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.kids[m].seg < seg {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(n.kids) && n.kids[lo].seg == seg {
		return n.kids[lo], lo
	}
	return nil, lo
}

// paramFor returns the parameter child with a suffix (nil if none).
func (n *node) paramFor(suffix string) *node {
	for _, p := range n.params {
		if p.suffix == suffix {
			return p
		}
	}
	return nil
}

// ep returns the endpoint of a method, or where it would go.
func (n *node) ep(method string) (*epStats, int) {
	for i, e := range n.eps {
		if e.method == method {
			return e, i
		}
		if e.method > method {
			return nil, i
		}
	}
	return nil, len(n.eps)
}

// addPrefix records a token value's type prefix (at most 4 per node).
func (n *node) addPrefix(p string) {
	if p == "" || len(n.prefixes) >= 4 {
		return
	}
	for _, x := range n.prefixes {
		if x == p {
			return
		}
	}
	n.prefixes = append(n.prefixes, strings.Clone(p))
}

func (n *node) empty() bool { return len(n.eps) == 0 && len(n.kids) == 0 && len(n.params) == 0 }

// top says whether n's children are resources rather than values: the
// root and version segments (/v1). Scanners fill these positions with
// junk; they never fold online.
func (n *node) top() bool { return n.parent == nil || !n.param && isVersion(n.seg) }

// hostTree is the trie of one host and API version.
type hostTree struct {
	key       hostKey
	root      node
	eps       []*epStats // the host's endpoints (eviction within the host)
	idx       int        // position in trie.hostList
	nodes     int
	calls     uint64
	last      int64
	static    uint64 // static assets (not in the catalog)
	folded    uint64 // segments forced into a parameter by a bound
	dropped   uint64 // observations not recorded: no room
	evicted   uint64 // endpoints evicted to make room
	evCalls   uint64 // calls of the evicted endpoints
	probes    uint64 // probes that found no endpoint of the host
	probeKind tally  // ... by class (tProbe)
}

type hostKey struct{ host, version string }

// trie is the catalog's state: the hosts' tries, the endpoint budget and
// the caches used while recording. One goroutine updates it at a time
// (Catalog.mu); every decision depends only on the order of updates.
type trie struct {
	cfg          *Config
	names        *names
	known        [http1.NumHeaderIDs]uint32 // name ids of well-known headers
	hosts        map[hostKey]*hostTree
	hostList     []*hostTree
	eps          []*epStats // every endpoint (eviction sampling)
	nodes        int
	rng          uint64
	hostsDropped uint64 // requests of hosts that found no room
	hostsEvicted uint64
	unattributed uint64 // responses without a request
	hostProbes   uint64 // requests whose Host header carried payload syntax
	evicted      uint64 // endpoints evicted (all hosts)
	evCalls      uint64
	creds        identity.Parser   // authHeader's, for transactions without tx.Auth
	auth         reassembly.Auth   // what creds parsed
	lowerCache   map[string]string // header names as sent -> lower case
	geo          *geoDB            // nil without a database
	geoCache     map[netip.Addr]geoInfo
	last         time.Time
	actors       [actorSlots]actorSlot
	// version headers: well-known ones by ID, the others by name
	verByID  [http1.NumHeaderIDs]bool
	verOther []string
	// the hosts of the last calls, newest first (nil: none); each is the
	// one t.hosts holds for its key
	recent [4]*hostTree
	cts    ctCache        // content types (stats.go)
	gql    *gqlreq.Parser // GraphQL requests (graphql.go)
	// GraphQL-over-WebSocket operation ids: flow id and operation id to
	// the operation's key (graphql.go, bounded by maxWSOps)
	wsOps map[string]string
}

// lower returns the lower-case form of a header name from a bounded
// cache, so Title-Case names do not allocate on every request.
func (t *trie) lower(s string) string {
	if l, ok := t.lowerCache[s]; ok {
		return l
	}
	l := lowerName(s)
	if len(t.lowerCache) < 1024 {
		t.lowerCache[strings.Clone(s)] = strings.Clone(l)
	}
	return l
}

func newTrie(cfg *Config, geo *geoDB) *trie {
	t := &trie{cfg: cfg, names: newNames(), hosts: map[hostKey]*hostTree{}, lowerCache: map[string]string{},
		geo: geo, geoCache: map[netip.Addr]geoInfo{}, rng: 0x9e3779b97f4a7c15}
	for id := http1.IDOther + 1; int(id) < http1.NumHeaderIDs; id++ {
		t.known[id] = t.names.id(http1.KnownName(id))
		// a well-known name folds to a version header exactly when the
		// header names it stands for do (folding is an equivalence)
		for _, name := range cfg.VersionHeaders {
			t.verByID[id] = t.verByID[id] || strings.EqualFold(http1.KnownName(id), name)
		}
	}
	// names outside the list are compared with all of them, folded as
	// strings.EqualFold does (a non-ASCII spelling can fold to a listed one)
	t.verOther = cfg.VersionHeaders
	return t
}

// recentHost returns the host of key hk among the recent ones (nil if
// it is not one of them).
func (t *trie) recentHost(hk hostKey) *hostTree {
	for _, ht := range t.recent {
		if ht == nil {
			return nil
		}
		if ht.key == hk {
			return ht
		}
	}
	return nil
}

// touchHost puts ht first among the recent hosts.
func (t *trie) touchHost(ht *hostTree) {
	if t.recent[0] == ht {
		return
	}
	prev := ht
	for i := range t.recent {
		t.recent[i], prev = prev, t.recent[i]
		if prev == ht {
			return
		}
	}
}

// forgetHost removes an evicted host from the recent ones.
func (t *trie) forgetHost(ht *hostTree) {
	for i := range t.recent {
		if t.recent[i] == ht {
			copy(t.recent[i:], t.recent[i+1:])
			t.recent[len(t.recent)-1] = nil
			return
		}
	}
}

// scannerBit is the Notes.Attacks bit of the scanner class.
var scannerBit = uint32(vocab.Bit(vocab.AttackClasses, "scanner"))

// add records one transaction: an API call on its endpoint (made if
// needed, within the budget), or a probe counted on the nearest existing
// endpoint. A probe is a request whose path carries payload syntax, or
// one that got only an error (or no answer) and that the attack analyzer
// flagged (an injection, a scanner), or whose client it or the catalog
// flagged as a scanner within the hour, or whose method is unknown; such
// a probe on an existing endpoint is a call of it.
func (t *trie) add(tx *reassembly.Transaction) {
	req := tx.Request
	if tx.Message != nil {
		t.addMessage(tx)
		return
	}
	if req == nil {
		t.unattributed++
		return
	}
	if req.Path == "" && tx.Protocol != reassembly.ProtoHTTP1 {
		return // an HTTP/2 :path that did not resolve (late join): counted in the stats
	}
	at := req.Start
	if at.After(t.last) {
		t.last = at
	}
	client := tx.ClientAddr()
	verdict := tx.Notes.Attacks
	sb := scannerBit
	if verdict != 0 {
		t.flag(client, at)
	}
	injection := verdict&^sb != 0
	status := 0
	if tx.Response != nil {
		status = tx.Response.Status
	}
	failed := status == 0 || status >= 400
	// flagged requests that got only an error make no node: an injection
	// the server answered without one reached a real endpoint
	scanner := failed && (injection || verdict&sb != 0 || t.flagged(client, at))

	host, clean := normHostClean(req.Host, tx)
	if !clean {
		t.hostProbes++
		return
	}
	hk := hostKey{host: host, version: t.version(req)}
	path := req.Path
	class, dot := probePathDot(path)
	if class == probeNone && failed && !standardMethods[req.Method] {
		class = probeMethod
	}
	probe := class != probeNone || scanner
	if class != probeNone && class != probeMethod {
		t.flag(client, at) // payloads in the path: the client is hostile
	}

	ht := t.recentHost(hk) // most calls go to a host of the last calls
	if ht == nil {
		ht = t.hosts[hk]
	}
	if ht == nil {
		if probe {
			t.hostProbes++ // a probe makes no host either
			return
		}
		if ht = t.newHost(hk); ht == nil {
			t.hostsDropped++
			return
		}
	}
	t.touchHost(ht)
	ht.calls++
	if ns := at.UnixNano(); ns > ht.last {
		ht.last = ns
	}
	if dot && isStatic(path) { // (a static asset's name has a dot)
		ht.static++
		return
	}
	if probe {
		n, complete := t.find(ht, path)
		if ep, _ := n.ep(req.Method); complete && ep != nil && class == probeNone {
			t.record(ep, tx) // a flagged call of an existing endpoint is a call
			return
		}
		key := uint32(class)
		switch {
		case class != probeNone:
		case injection:
			key = probeVerdict + uint32(lowestBit(verdict&^sb))
		default:
			key = uint32(probeScanner)
		}
		t.countProbe(ht, n, req.Method, key, at)
		return
	}
	if failed {
		// an error on a path the catalog does not know: scanners make many
		if n, complete := t.find(ht, path); !complete {
			t.miss(client, at)
		} else if ep, _ := n.ep(req.Method); ep == nil {
			t.miss(client, at)
		}
	}
	n := &ht.root
	n.hits++
	grpcCall := tx.Protocol == reassembly.ProtoGRPC
	for rest := path; rest != ""; {
		var seg string
		if seg, rest = nextSegment(rest); seg != "" {
			if grpcCall {
				n = t.fixedChild(ht, n, seg)
			} else {
				n = t.child(ht, n, seg)
			}
			n.hits++
		}
	}
	method := req.Method
	ep, i := n.ep(method)
	if ep == nil {
		if len(n.eps) >= 16 || !t.roomForEndpoint(ht, n) {
			ht.dropped++
			return
		}
		ep, i = n.ep(method) // eviction may have changed the list
		if ep == nil {
			ep = &epStats{method: t.names.intern(boundedMethod(method)), node: n}
			n.eps = append(n.eps, nil)
			copy(n.eps[i+1:], n.eps[i:])
			n.eps[i] = ep
			t.list(ht, ep)
		}
	}
	t.record(ep, tx)
}

func lowestBit(v uint32) int {
	for i := 0; i < 32; i++ {
		if v&(1<<i) != 0 {
			return i
		}
	}
	return 0
}

// boundedMethod keeps a method name short (methods are tokens; a parser
// that let a longer one through still gets a bounded name).
func boundedMethod(m string) string {
	if len(m) > 24 {
		return m[:24]
	}
	return m
}

// find walks the existing nodes of a path without making any: a segment
// with payload syntax takes the place of a parameter's value. It returns
// the deepest node reached and whether the whole path was.
func (t *trie) find(ht *hostTree, path string) (*node, bool) {
	n := &ht.root
	complete := true
	Segments(path, func(seg string) bool {
		var next *node
		if probeSegment(seg) != probeNone {
			next = n.paramFor("")
		} else {
			next = t.lookup(n, seg)
		}
		if next == nil {
			complete = false
			return false
		}
		n = next
		return true
	})
	return n, complete
}

// lookup returns the existing child of n a segment goes to (nil if none).
func (t *trie) lookup(n *node, seg string) *node {
	if c, _ := n.kid(seg); c != nil {
		return c
	}
	k, suffix := segKind(seg, int(n.depth))
	if k == KindLiteral {
		if !(n.folded || n.overflow) || exempt(seg) {
			return nil
		}
		suffix = literalSuffix(n, seg)
	}
	return n.paramFor(suffix)
}

// countProbe counts a probe on the nearest existing endpoint: the node's
// endpoint of the method, else its busiest one, else its parent's; with
// none on the way to the root, on the host.
func (t *trie) countProbe(ht *hostTree, n *node, method string, key uint32, at time.Time) {
	for ; n != nil; n = n.parent {
		ep, _ := n.ep(method)
		if ep == nil {
			for _, e := range n.eps {
				if ep == nil || e.calls > ep.calls {
					ep = e
				}
			}
		}
		if ep != nil {
			ep.t.add(tProbe, key, 1, 0)
			if ns := at.UnixNano(); ns > ep.probeLast {
				ep.probeLast = ns
			}
			return
		}
	}
	ht.probes++
	ht.probeKind.add(tProbe, key, 1, 0)
}

// exempt says whether a literal segment never folds: API versions and
// well-known words (me, search, ...).
// It allocates nothing for an ASCII segment (lower-cased on the stack).
func exempt(seg string) bool {
	if isVersion(seg) {
		return true
	}
	var buf [16]byte // longer than any of literalWords
	if len(seg) > len(buf) {
		return false
	}
	b := buf[:0]
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c >= 0x80 {
			return literalWords[strings.ToLower(seg)] // Unicode case rules
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return literalWords[string(b)]
}

// child returns the node for seg under n, creating it within the bounds.
func (t *trie) child(ht *hostTree, n *node, seg string) *node {
	if c, _ := n.kid(seg); c != nil {
		return c
	}
	k, suffix := segKind(seg, int(n.depth))
	if k == KindLiteral {
		switch {
		case (n.folded || n.overflow) && !exempt(seg):
			k, suffix = KindSlug, literalSuffix(n, seg)
			if n.overflow {
				ht.folded++
			}
		case len(n.kids) < t.cfg.MaxLiteralsPerNode && t.roomForNode(ht, n):
			c := t.newNode(ht, n, seg, false, "")
			if len(n.kids) >= t.cfg.FoldMaxLiterals && !n.folded && !n.top() {
				t.foldOnline(ht, n)
				if k, _ := n.kid(seg); k == nil { // folded into the parameter
					return t.child(ht, n, seg)
				}
			}
			return c
		default:
			n.overflow = true
			k, suffix = KindSlug, literalSuffix(n, seg)
			ht.folded++
		}
	}
	p := n.paramFor(suffix)
	if p == nil {
		if !t.roomForNode(ht, n) {
			ht.folded++
			return n // no room: the rest of the path stays on this node
		}
		p = t.newNode(ht, n, "", true, suffix)
	}
	p.kinds |= 1 << k
	if k == KindToken {
		p.addPrefix(tokenPrefix(seg))
	}
	return p
}

// fixedChild returns the literal node for seg under n, one that folding
// leaves alone (gRPC service and method names), within the bounds; past
// them seg goes where child puts it.
func (t *trie) fixedChild(ht *hostTree, n *node, seg string) *node {
	c, _ := n.kid(seg)
	if c == nil {
		if len(n.kids) >= t.cfg.MaxLiteralsPerNode || !t.roomForNode(ht, n) {
			return t.child(ht, n, seg)
		}
		c = t.newNode(ht, n, seg, false, "")
	}
	c.fixed = true
	return c
}

// literalSuffix is the parameter a literal value goes to at a folded
// position: the one of its extension if there is one (US.json into
// {countryCode}.json), the bare one otherwise.
func literalSuffix(n *node, seg string) string {
	if _, ext := splitExt(seg); ext != "" && n.paramFor(ext) != nil {
		return ext
	}
	return ""
}

// newNode adds a literal (param false) or parameter child to n.
func (t *trie) newNode(ht *hostTree, n *node, seg string, param bool, suffix string) *node {
	c := &node{parent: n, param: param, depth: n.depth}
	if c.depth < 255 {
		c.depth++
	}
	if param {
		c.suffix = suffix
		i := sort.Search(len(n.params), func(i int) bool { return n.params[i].suffix >= suffix })
		n.params = append(n.params, nil)
		copy(n.params[i+1:], n.params[i:])
		n.params[i] = c
	} else {
		c.seg = strings.Clone(seg)
		_, i := n.kid(seg)
		n.kids = append(n.kids, nil)
		copy(n.kids[i+1:], n.kids[i:])
		n.kids[i] = c
	}
	ht.nodes++
	t.nodes++
	return c
}

// foldOnline folds the literal values of a position that holds
// fold_max_literals of them into its parameter, in the trie itself: the
// view would fold them anyway, and later values then cost no node. Busy
// values (three times the median, or among the onlineKeep busiest, and
// three calls at least) stay: the view decides them from their shape.
func (t *trie) foldOnline(ht *hostTree, n *node) {
	var vals []*node
	for _, c := range n.kids {
		if !exempt(c.seg) && !c.fixed {
			vals = append(vals, c)
		}
	}
	if len(vals) < t.cfg.FoldMaxLiterals {
		return
	}
	hs := make([]uint64, len(vals))
	for i, c := range vals {
		hs[i] = c.hits
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i] > hs[j] })
	median, top := hs[len(hs)/2], hs[onlineKeep-1]
	suffix := commonSuffix(vals)
	p := n.paramFor(suffix)
	if p == nil {
		p = t.newNode(ht, n, "", true, suffix)
	}
	p.kinds |= 1 << KindSlug
	for _, c := range vals {
		if c.hits >= 3 && (c.hits >= 3*max(median, 1) || c.hits >= top) {
			continue
		}
		t.detach(c)
		t.mergeLive(ht, p, c)
	}
	n.folded = true
}

// onlineKeep is how many of the busiest values an online fold keeps at
// least (with three calls or more): the view folds them too if they fit
// the parameter, and keeps operations that only looked like values.
const onlineKeep = 8

// commonSuffix is the extension all values carry when there is one and it
// is an API format (json, xml, ...), else "".
func commonSuffix(vals []*node) string {
	suffix := ""
	for i, c := range vals {
		_, ext := splitExt(c.seg)
		if i == 0 {
			suffix = ext
		} else if ext != suffix {
			return ""
		}
	}
	return suffix
}

// detach removes c from its parent's children.
func (t *trie) detach(c *node) {
	n := c.parent
	if c.param {
		for i, p := range n.params {
			if p == c {
				n.params = append(n.params[:i], n.params[i+1:]...)
				break
			}
		}
		return
	}
	if _, i := n.kid(c.seg); i < len(n.kids) && n.kids[i] == c {
		n.kids = append(n.kids[:i], n.kids[i+1:]...)
	}
}

// mergeLive moves src's subtree (detached) into dst: children dst lacks
// move over, the others merge, endpoints of the same method merge their
// statistics.
func (t *trie) mergeLive(ht *hostTree, dst, src *node) {
	dst.hits += src.hits
	dst.kinds |= src.kinds
	dst.overflow = dst.overflow || src.overflow
	dst.folded = dst.folded || src.folded
	dst.fixed = dst.fixed || src.fixed
	for _, p := range src.prefixes {
		dst.addPrefix(p)
	}
	ht.nodes--
	t.nodes--
	for _, k := range src.kids {
		if d, i := dst.kid(k.seg); d != nil {
			t.mergeLive(ht, d, k)
		} else {
			k.parent = dst
			setDepth(k, dst.depth+1)
			dst.kids = append(dst.kids, nil)
			copy(dst.kids[i+1:], dst.kids[i:])
			dst.kids[i] = k
		}
	}
	for _, p := range src.params {
		if d := dst.paramFor(p.suffix); d != nil {
			t.mergeLive(ht, d, p)
		} else {
			p.parent = dst
			setDepth(p, dst.depth+1)
			i := sort.Search(len(dst.params), func(i int) bool { return dst.params[i].suffix >= p.suffix })
			dst.params = append(dst.params, nil)
			copy(dst.params[i+1:], dst.params[i:])
			dst.params[i] = p
		}
	}
	for _, e := range src.eps {
		if d, i := dst.ep(e.method); d != nil {
			d.merge(e)
			t.unlist(ht, e)
		} else {
			e.node = dst
			dst.eps = append(dst.eps, nil)
			copy(dst.eps[i+1:], dst.eps[i:])
			dst.eps[i] = e
		}
	}
}

func setDepth(n *node, d uint8) {
	if n.depth == d {
		return
	}
	n.depth = d
	next := d
	if next < 255 {
		next++
	}
	for _, k := range n.kids {
		setDepth(k, next)
	}
	for _, p := range n.params {
		setDepth(p, next)
	}
}

// version is the API version a request names in a header or the query.
func (t *trie) version(req *http1.Request) string {
	for i := range req.Headers {
		h := &req.Headers[i]
		id := h.Known()
		if t.verByID[id] {
			return boundedToken(h.Value)
		}
		if id != http1.IDOther {
			continue
		}
		for _, name := range t.verOther {
			if strings.EqualFold(h.Name, name) {
				return boundedToken(h.Value)
			}
		}
	}
	const param = "api-version"
	for q := req.Query; q != ""; {
		kv := q
		if i := strings.IndexByte(q, '&'); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			q = ""
		}
		if eq := strings.IndexByte(kv, '='); eq >= 0 && strings.EqualFold(kv[:eq], param) {
			return boundedToken(kv[eq+1:])
		}
	}
	return ""
}

// boundedToken keeps a version value short and printable.
func boundedToken(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 24 {
		v = v[:24]
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return "(invalid)"
		}
	}
	return v
}

// normHost lower-cases the Host header, drops a default port and
// replaces bytes that have no place in a host name by '_'; without a Host
// header it is the server address.
func normHost(h string, tx *reassembly.Transaction) string {
	s, _ := normHostClean(h, tx)
	return s
}

// normHostClean is normHost that also says whether the Host header held
// only host name bytes (a payload in it makes it a probe).
func normHostClean(h string, tx *reassembly.Transaction) (string, bool) {
	if h == "" {
		if tx == nil {
			return "", true
		}
		return tx.Flow.Server.String(), true
	}
	if len(h) > 253 {
		h = h[:253]
	}
	h = strings.TrimSuffix(h, ":80")
	for i := 0; i < len(h); i++ {
		if !hostLower[h[i]] {
			clean := true
			out := strings.Map(func(r rune) rune {
				switch {
				case r >= 'A' && r <= 'Z':
					return r + 'a' - 'A'
				case r >= 0x80 || !hostChar(byte(r)):
					clean = false
					return '_'
				}
				return r
			}, h)
			return out, clean
		}
	}
	return h, true
}

// hostLower holds the bytes a normalised host keeps as they are.
var hostLower = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = hostChar(byte(c)) && !(c >= 'A' && c <= 'Z')
	}
	return
}()

func hostChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'
}
