package discovery

import (
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// node is one path position of a host's trie: a literal segment or the
// parameter child of its parent. Templates are decided later, on a merged
// view (see view.go); the trie only bounds itself.
type node struct {
	lit      map[string]*node
	param    *node
	kinds    uint16 // bits of Kind that went to this parameter node
	hits     uint64 // observations that passed through or ended here
	eps      map[string]*epStats
	overflow bool // literal bound reached: new literals go to param
	fixed    bool // a segment of a gRPC method path: never folded
	// prefixes are type prefixes of token values (cus_, inv_) that went to
	// this parameter node: literal siblings with one fold into it.
	prefixes []string
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

// hostTree is the trie of one host and API version.
type hostTree struct {
	root      node
	nodes     int
	endpoints int
	calls     uint64
	static    uint64 // static assets (not in the catalog)
	folded    uint64 // segments forced into a parameter by a bound
	dropped   uint64 // observations not recorded: endpoint bound
}

type hostKey struct{ host, version string }

// trie is one worker's part of the catalog. Its mutex is taken by the
// worker for each transaction and by the reporter for a merge.
type trie struct {
	mu           sync.Mutex
	cfg          *Config
	hosts        map[hostKey]*hostTree
	hostsDropped uint64            // observations of hosts beyond max_hosts
	unattributed uint64            // responses without a request
	jwt          []jwtSlot         // decodeJWT's cache
	big          jwtInfo           // decodeJWT's answer for a token too long to cache
	names        map[string]string // header names as sent -> lower case
	geo          *geoDB            // nil without a database
	geoCache     map[netip.Addr]geoInfo
	last         time.Time
	// version headers: well-known ones by ID, the others by name
	verByID  [http1.NumHeaderIDs]bool
	verOther []string
	// the host of the last call
	lastHK hostKey
	lastHT *hostTree
}

// lower returns the lower-case form of a header name from a bounded
// cache, so Title-Case names do not allocate on every request.
func (t *trie) lower(s string) string {
	if l, ok := t.names[s]; ok {
		return l
	}
	l := lowerName(s)
	if len(t.names) < 1024 {
		t.names[strings.Clone(s)] = strings.Clone(l)
	}
	return l
}

func newTrie(cfg *Config, geo *geoDB) *trie {
	t := &trie{cfg: cfg, hosts: map[hostKey]*hostTree{}, names: map[string]string{},
		geo: geo, geoCache: map[netip.Addr]geoInfo{}}
	// a well-known name folds to a version header exactly when the header
	// names it stands for do (folding is an equivalence)
	for id := http1.IDOther + 1; int(id) < http1.NumHeaderIDs; id++ {
		for _, name := range cfg.VersionHeaders {
			t.verByID[id] = t.verByID[id] || strings.EqualFold(http1.KnownName(id), name)
		}
	}
	// names outside the list are compared with all of them, folded as
	// strings.EqualFold does (a non-ASCII spelling can fold to a listed one)
	t.verOther = cfg.VersionHeaders
	return t
}

// add records one transaction.
func (t *trie) add(tx *reassembly.Transaction) {
	req := tx.Request
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
	hk := hostKey{host: normHost(req.Host, tx), version: t.version(req)}
	ht := t.lastHT // most calls go to the host of the previous one (hosts are never removed)
	if ht == nil || hk != t.lastHK {
		ht = t.hosts[hk]
	}
	if ht == nil {
		if len(t.hosts) >= t.cfg.MaxHosts {
			t.hostsDropped++
			return
		}
		ht = &hostTree{}
		t.hosts[hk] = ht
	}
	t.lastHK, t.lastHT = hk, ht
	ht.calls++
	path := req.Path
	if isStatic(path) {
		ht.static++
		return
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
	ep := n.eps[method]
	if ep == nil {
		if ht.endpoints >= t.cfg.MaxEndpointsPerHost || len(n.eps) >= 16 {
			ht.dropped++
			return
		}
		if n.eps == nil {
			n.eps = map[string]*epStats{}
		}
		ep = &epStats{}
		n.eps[method] = ep
		ht.endpoints++
	}
	t.record(ep, tx)
}

// child returns the node for seg under n, creating it within the bounds.
func (t *trie) child(ht *hostTree, n *node, seg string) *node {
	if c, ok := n.lit[seg]; ok {
		return c
	}
	k := classify(seg)
	if k == KindLiteral && !n.overflow {
		if len(n.lit) < t.cfg.MaxLiteralsPerNode && ht.nodes < t.cfg.MaxNodesPerHost {
			if n.lit == nil {
				n.lit = map[string]*node{}
			}
			c := &node{}
			n.lit[strings.Clone(seg)] = c
			ht.nodes++
			return c
		}
		n.overflow = true
	}
	if k == KindLiteral {
		k = KindSlug
		ht.folded++
	}
	if n.param == nil {
		if ht.nodes >= t.cfg.MaxNodesPerHost {
			ht.folded++
			return n // no room: the rest of the path stays on this node
		}
		n.param = &node{}
		ht.nodes++
	}
	n.param.kinds |= 1 << k
	if k == KindToken {
		n.param.addPrefix(tokenPrefix(seg))
	}
	return n.param
}

// fixedChild returns the literal node for seg under n, one that folding
// leaves alone (gRPC service and method names), within the node bound.
func (t *trie) fixedChild(ht *hostTree, n *node, seg string) *node {
	c, ok := n.lit[seg]
	if !ok {
		if len(n.lit) >= t.cfg.MaxLiteralsPerNode || ht.nodes >= t.cfg.MaxNodesPerHost {
			return t.child(ht, n, seg)
		}
		if n.lit == nil {
			n.lit = map[string]*node{}
		}
		c = &node{}
		n.lit[strings.Clone(seg)] = c
		ht.nodes++
	}
	c.fixed = true
	return c
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
	if h == "" {
		return tx.Flow.Server.String()
	}
	if len(h) > 253 {
		h = h[:253]
	}
	h = strings.TrimSuffix(h, ":80")
	for i := 0; i < len(h); i++ {
		if !hostLower[h[i]] {
			return strings.Map(func(r rune) rune {
				switch {
				case r >= 'A' && r <= 'Z':
					return r + 'a' - 'A'
				case r >= 0x80 || !hostChar(byte(r)):
					return '_'
				}
				return r
			}, h)
		}
	}
	return h
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

// record adds tx to an endpoint's statistics.
func (t *trie) record(ep *epStats, tx *reassembly.Transaction) {
	req, resp := tx.Request, tx.Response
	cfg := t.cfg
	ep.calls++
	if ep.first.IsZero() || req.Start.Before(ep.first) {
		ep.first = req.Start
	}
	if req.Start.After(ep.last) {
		ep.last = req.Start
	}
	hour := req.Start.Unix() / 3600
	if ep.hours != nil && hour == ep.hourLast {
		ep.hourPend++ // the hour of the last call: no map operation
	} else {
		if ep.hours == nil {
			ep.hours = map[int64]uint64{}
		}
		ep.flushHour()
		ep.hours[hour]++
		ep.hourLast = hour
		if len(ep.hours) > maxHours {
			trimHours(ep.hours)
		}
	}
	client := tx.ClientAddr()
	ep.ips.addAddr(client)
	if t.geo != nil {
		g := t.geoOf(client)
		countStr(&ep.countries, g.country, maxOrigins, &ep.cut)
		countStr(&ep.networks, g.network, maxOrigins, &ep.cut)
	}
	ep.reqBytes += uint64(req.HeadSize) + uint64(req.Body.WireBytes)
	if tx.H2 != nil {
		ep.h2++
		if g := tx.H2.GRPC; g != nil {
			ep.grpcCalls++
			ep.addGRPC(g)
		}
	}

	// query parameters: names and value types only
	for q := req.Query; q != ""; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "" || len(k) > 64 {
			continue
		}
		p := ep.query[k]
		if p == nil {
			if len(ep.query) >= maxQueryParams {
				ep.cut++
				continue
			}
			if ep.query == nil {
				ep.query = map[string]*paramStat{}
			}
			p = &paramStat{}
			ep.query[strings.Clone(k)] = p
		}
		p.count++
		switch {
		case v == "":
			p.empty++
		case v == "true" || v == "false":
			p.bools++
		case isDecimal(v):
			p.nums++
		default:
			p.kinds |= 1 << classify(v)
		}
	}

	// headers: names, content type, authentication
	var reqCT string
	au := authInfo{}
	for i := range req.Headers {
		h := &req.Headers[i]
		id := h.Known()
		if id != http1.IDOther { // well-known: no folding, no lookups
			if !hdrSkip[id] {
				ep.countKnown(id)
			}
			if id == http1.IDContentType {
				reqCT = h.Value
			} else if hdrAuth[id] {
				t.authHeader(http1.KnownName(id), h.Value, &au)
			}
			continue
		}
		name := t.lower(h.Name)
		if !skipHeader[name] {
			countStr(&ep.headers, name, maxHeaders-len(ep.known), &ep.cut) // one bound for both lists
		}
		t.authHeader(name, h.Value, &au)
	}
	if au.kind == authNone {
		authQuery(req.Query, &au)
	}
	if au.kind != authNone || tx.H2 == nil || tx.H2.Unresolved == 0 {
		ep.auth[au.kind]++ // (an HTTP/2 header that did not resolve may have been the credentials)
	}
	if au.name != "" {
		countStr(&ep.keyNames, au.name, maxAuthNames, &ep.cut)
	}
	if au.alg != "" {
		countStr(&ep.jwtAlgs, au.alg, maxAuthNames, &ep.cut)
	}
	if au.iss != "" {
		countStr(&ep.jwtIss, au.iss, maxAuthNames, &ep.cut)
	}
	if au.user != "" {
		ep.users.add(au.user)
	}
	if reqCT != "" {
		countStr(&ep.reqCT, mediaType(reqCT), maxContentTypes, &ep.cut)
		if len(req.Body.Data) > 0 && (isJSON(reqCT) || renderedJSON(tx, req.Body.Data)) && sample(ep.reqSampled, ep.calls, cfg) {
			ep.reqSampled++
			if ep.reqSchema == nil {
				ep.reqSchema = &schemaTree{}
			}
			ep.reqSchema.infer(req.Body.Data)
		}
	}

	// response
	status := 0
	if resp != nil {
		status = resp.Status
		ep.respBytes += uint64(resp.HeadSize) + uint64(resp.Body.WireBytes)
		if !resp.End.IsZero() {
			ep.lat.add(resp.Start.Sub(req.End))
		}
		for i := range resp.Headers {
			h := &resp.Headers[i]
			if h.Known() == http1.IDContentType {
				countStr(&ep.respCT, mediaType(h.Value), maxContentTypes, &ep.cut)
				if len(resp.Body.Data) > 0 && (isJSON(h.Value) || renderedJSON(tx, resp.Body.Data)) && sample(ep.respSampled, ep.calls, cfg) {
					ep.respSampled++
					st := ep.respSchema[status]
					if st == nil && len(ep.respSchema) < maxRespSchemas {
						if ep.respSchema == nil {
							ep.respSchema = map[int]*schemaTree{}
						}
						st = &schemaTree{}
						ep.respSchema[status] = st
					}
					if st != nil {
						st.infer(resp.Body.Data)
					}
				}
				break
			}
		}
	}
	countIn(&ep.status, status, 1, maxStatus, &ep.cut)

	if c := tx.Notes.Conformance; c != "" {
		countIn(&ep.conf, c, 1, 8, &ep.cut)
		for i, v := 0, tx.Notes.Violations; v != 0; i, v = i+1, v>>1 {
			if v&1 != 0 {
				ep.violations[i]++
			}
		}
	}
	for i, v := 0, tx.Notes.Attacks; v != 0; i, v = i+1, v>>1 {
		if v&1 != 0 {
			ep.attacks[i]++
		}
	}
	if tx.Notes.AttackSucceeded {
		ep.succeeded++
	}
	for i, v := 0, tx.Notes.Abuse; v != 0; i, v = i+1, v>>1 {
		if v&1 != 0 {
			ep.abuse[i]++
		}
	}
	for i, v := 0, tx.Notes.Misconfig; v != 0; i, v = i+1, v>>1 {
		if v&1 != 0 {
			ep.misconfig[i]++
		}
	}
	countTypes(&ep.typesReq, tx.Notes.SensitiveRequest)
	countTypes(&ep.typesResp, tx.Notes.SensitiveResponse)
	f := tx.Flags
	switch {
	case f&http1.FlagParseError != 0:
		ep.comp.parseError++
	case f&(http1.FlagGap|http1.FlagMidStreamStart) != 0:
		ep.comp.gap++
	case f&(http1.FlagTruncated|http1.FlagHeadersTruncated|http1.FlagDecodeError) != 0:
		ep.comp.truncated++
	case resp == nil:
		ep.comp.noResponse++
	default:
		ep.comp.whole++
	}
}

// sample says whether to infer a body's schema: the first SchemaSamples
// bodies of an endpoint, then one call in SchemaSampleEvery.
func sample(done, calls uint64, cfg *Config) bool {
	return done < uint64(cfg.SchemaSamples) || calls%uint64(cfg.SchemaSampleEvery) == 0
}

func isDecimal(v string) bool {
	dot := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0:
			dot = true
		case c == '-' && i == 0 && len(v) > 1:
		default:
			return false
		}
	}
	return dot
}

// mediaType is the lower-case type/subtype of a Content-Type value.
func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	if len(v) > 64 {
		v = v[:64]
	}
	return lowerName(v)
}

// lowerName lower-cases an ASCII header name, allocating only when it
// has upper-case letters.
func lowerName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// skipHeader lists request headers too common to say anything about an
// endpoint; they are not listed in the catalog.
var skipHeader = map[string]bool{
	"host": true, "content-length": true, "connection": true, "accept-encoding": true,
	"transfer-encoding": true, "keep-alive": true, "te": true, "upgrade": true,
}

// hdrSkip and hdrAuth say, by well-known header ID, whether the name is
// in skipHeader and whether authHeader looks at it.
var hdrSkip, hdrAuth = func() (skip, auth [http1.NumHeaderIDs]bool) {
	for id := http1.IDOther + 1; int(id) < http1.NumHeaderIDs; id++ {
		n := http1.KnownName(id)
		skip[id] = skipHeader[n]
		auth[id] = n == "authorization" || n == "cookie" || apiKeyHeaders[n]
	}
	return
}()
