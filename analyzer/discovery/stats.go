package discovery

import (
	"math"
	mbits "math/bits"
	"sort"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/identity"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Bounds of the per-endpoint tables; what does not fit is counted in
// epStats.cut.
const (
	maxStatus       = 24
	maxQueryParams  = 48
	maxHeaders      = 48
	maxContentTypes = 8
	maxRespSchemas  = 8
	maxHours        = 24 * 14 // hourly buckets kept (the newest)
	maxAuthNames    = 8
	maxOrigins      = 32 // countries and networks per endpoint
)

// tableMax is the bound of each tally table (0: bounded by construction).
func tableMax(table int) int {
	switch table {
	case tStatus:
		return maxStatus
	case tHeader:
		return maxHeaders
	case tReqCT, tRespCT:
		return maxContentTypes
	case tKeyName, tJWTAlg, tJWTIss:
		return maxAuthNames
	case tCountry, tNetwork:
		return maxOrigins
	case tGRPCStatus:
		return maxGRPCStatus
	case tGRPCService, tGRPCMethod:
		return 4
	}
	return 0
}

// Auth kinds seen on requests.
const (
	authNone = iota
	authBasic
	authBearerJWT
	authBearer
	authAPIKeyHeader
	authAPIKeyQuery
	authSessionCookie
	authOther
	numAuth
)

var authNames = [numAuth]string{"none", "basic", "bearer_jwt", "bearer", "api_key_header", "api_key_query", "session_cookie", "other"}

// Completeness kinds counted in tComp (whole calls are the rest).
const (
	compGap = iota
	compTruncated
	compNoResponse
	compParseError
)

// Conformance statuses counted in tConf.
var confNames = []string{"documented", "zombie", "undocumented_method", "shadow"}

func confIndex(s string) (uint32, bool) {
	for i, n := range confNames {
		if n == s {
			return uint32(i), true
		}
	}
	return 0, false
}

// paramStat is what is known of one query parameter: never its values.
type paramStat struct {
	name  string // interned
	count uint64
	kinds uint16 // bits of Kind seen in values (KindLiteral: any other string)
	bools uint64 // values that were true or false
	nums  uint64 // values that were decimal numbers (not integers)
	empty uint64
}

func (p *paramStat) merge(o *paramStat) {
	p.count += o.count
	p.kinds |= o.kinds
	p.bools += o.bools
	p.nums += o.nums
	p.empty += o.empty
}

// statusSchema is the inferred response schema of one status code.
type statusSchema struct {
	status int
	t      *schemaTree
}

// epStats is everything the catalog knows of one (host, method, path
// node). It is compact: counters live in one sorted tally, distinct
// counts in sketches that allocate registers only for many values, names
// are interned by the catalog.
type epStats struct {
	method      string    // interned
	node        *node     // where the endpoint sits (nil for a view's merge)
	host        *hostTree // its host (nil for a view's merge)
	idx         int32     // position in the catalog's endpoint list (-1: none)
	hidx        int32     // position in its host's list
	reqSampled  uint32
	respSampled uint32
	calls       uint64
	first, last int64 // capture time, unix nanoseconds
	t           tally
	query       []paramStat // sorted by name
	ips, users  sketch
	reqBytes    uint64
	respBytes   uint64
	reqSchema   *schemaTree
	respSchema  []statusSchema // sorted by status
	probeLast   int64          // capture time of the last probe counted here
	cut         uint64         // table entries not added because of a bound
	gql         *gqlTable      // GraphQL operations (graphql.go); nil for other endpoints
}

// hourOf is the tHour key of a capture time: hours since 2000-01-01 UTC.
func hourOf(ns int64) uint32 {
	h := ns/int64(time.Hour) - 262968
	if h < 0 {
		return 0
	}
	return uint32(min(h, tallyKeyMask))
}

func hourTime(k uint32) time.Time { return time.Unix((int64(k)+262968)*3600, 0).UTC() }

// count adds n to a bounded table, counting what does not fit as cut.
func (e *epStats) count(table int, k uint32, n uint64) {
	if !e.t.add(table, k, n, tableMax(table)) {
		e.cut += n
	}
}

// addHour counts a call in its hour and keeps the newest maxHours.
func (e *epStats) addHour(h uint32) {
	if i, ok := e.t.find(tkey(tHour, h)); ok {
		e.t[2*i+1]++ // (the table did not grow)
		return
	}
	e.t.add(tHour, h, 1, 0)
	if e.t.tableLen(tHour) > maxHours {
		lo, _ := e.t.span(tHour)
		oldest := uint32(e.t[2*lo] & tallyKeyMask)
		e.t.dropBelow(tHour, oldest+1)
	}
}

// success says whether the endpoint ever answered without an error.
func (e *epStats) success() bool {
	ok := false
	e.t.each(tStatus, func(k uint32, n uint64) { ok = ok || (k >= 100 && k < 400 && n > 0) })
	return ok
}

// param returns the stats of query parameter name, added while there is
// room (nil otherwise).
func (e *epStats) param(name string, in *names) *paramStat {
	i := sort.Search(len(e.query), func(i int) bool { return e.query[i].name >= name })
	if i < len(e.query) && e.query[i].name == name {
		return &e.query[i]
	}
	if len(e.query) >= maxQueryParams {
		return nil
	}
	if in != nil {
		name = in.intern(name)
	}
	e.query = append(e.query, paramStat{})
	copy(e.query[i+1:], e.query[i:])
	e.query[i] = paramStat{name: name}
	return &e.query[i]
}

// merge adds o (a folded sibling, or another part of a view's endpoint)
// into e.
func (e *epStats) merge(o *epStats) {
	e.calls += o.calls
	if e.first == 0 || (o.first != 0 && o.first < e.first) {
		e.first = o.first
	}
	if o.last > e.last {
		e.last = o.last
	}
	if o.probeLast > e.probeLast {
		e.probeLast = o.probeLast
	}
	e.t.merge(o.t, tableMax, &e.cut)
	if n := e.t.tableLen(tHour); n > maxHours {
		lo, _ := e.t.span(tHour)
		e.t.dropBelow(tHour, uint32(e.t[2*(lo+n-maxHours)]&tallyKeyMask))
	}
	for i := range o.query {
		p := e.param(o.query[i].name, nil)
		if p == nil {
			e.cut += o.query[i].count
			continue
		}
		p.merge(&o.query[i])
	}
	if o.reqSchema != nil {
		if e.reqSchema == nil {
			e.reqSchema = &schemaTree{names: o.reqSchema.names}
		}
		e.reqSchema.merge(o.reqSchema)
	}
	for _, ss := range o.respSchema {
		if st := e.schemaFor(ss.status, ss.t.names); st != nil {
			st.merge(ss.t)
		}
	}
	e.reqSampled += o.reqSampled
	e.respSampled += o.respSampled
	e.ips.merge(&o.ips)
	e.users.merge(&o.users)
	e.reqBytes += o.reqBytes
	e.respBytes += o.respBytes
	e.cut += o.cut
	if o.gql != nil {
		if e.gql == nil {
			e.gql = &gqlTable{}
		}
		e.gql.merge(o.gql)
	}
}

// schemaFor returns the response schema of a status, added while there is
// room (nil otherwise).
func (e *epStats) schemaFor(status int, in *names) *schemaTree {
	i := sort.Search(len(e.respSchema), func(i int) bool { return e.respSchema[i].status >= status })
	if i < len(e.respSchema) && e.respSchema[i].status == status {
		return e.respSchema[i].t
	}
	if len(e.respSchema) >= maxRespSchemas {
		return nil
	}
	st := &schemaTree{names: in}
	e.respSchema = append(e.respSchema, statusSchema{})
	copy(e.respSchema[i+1:], e.respSchema[i:])
	e.respSchema[i] = statusSchema{status, st}
	return st
}

// clone copies e for a view's merge (merging copies schemas too: the
// catalog's stay as they are).
func (e *epStats) clone() *epStats {
	c := &epStats{method: e.method, idx: -1, hidx: -1}
	c.merge(e)
	return c
}

// record adds tx to an endpoint's statistics.
func (t *trie) record(ep *epStats, tx *reassembly.Transaction) {
	req, resp := tx.Request, tx.Response
	cfg := t.cfg
	ep.calls++
	at := req.Start.UnixNano()
	if ep.first == 0 || at < ep.first {
		ep.first = at
	}
	if at > ep.last {
		ep.last = at
	}
	ep.addHour(hourOf(at))
	client := tx.ClientAddr()
	ep.ips.addAddr(client)
	if t.geo != nil {
		g := t.geoOf(client)
		if g.country != "" {
			ep.count(tCountry, t.names.id(g.country), 1)
		}
		if g.network != "" {
			ep.count(tNetwork, t.names.id(g.network), 1)
		}
	}
	ep.reqBytes += uint64(req.HeadSize) + uint64(req.Body.WireBytes)
	t.recordH2(ep, tx)

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
		if probeSegment(k) != probeNone {
			ep.count(tProbe, uint32(probeSegment(k)), 1) // a payload as a name is no parameter
			continue
		}
		p := ep.param(k, t.names)
		if p == nil {
			ep.cut++
			continue
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
				ep.count(tHeader, t.known[id], 1)
			}
			if id == http1.IDContentType {
				reqCT = h.Value
			} else if hdrAuth[id] {
				t.authHeader(http1.KnownName(id), h.Value, &au, tx)
			}
			continue
		}
		name := t.lower(h.Name)
		if !skipHeader[name] {
			ep.count(tHeader, t.names.id(name), 1)
		}
		t.authHeader(name, h.Value, &au, tx)
	}
	if au.kind == authNone {
		authQuery(req.Query, &au)
	}
	if au.kind != authNone || tx.H2 == nil || tx.H2.Unresolved == 0 {
		ep.t.add(tAuth, uint32(au.kind), 1, 0) // (an HTTP/2 header that did not resolve may have been the credentials)
	}
	if au.name != "" {
		ep.count(tKeyName, t.names.id(au.name), 1)
	}
	if au.alg != "" {
		ep.count(tJWTAlg, t.names.id(au.alg), 1)
	}
	if au.iss != "" {
		ep.count(tJWTIss, t.names.id(au.iss), 1)
	}
	if au.user != "" {
		ep.users.add(au.user)
	}
	if reqCT != "" {
		ep.count(tReqCT, t.ctID(reqCT), 1)
		if !req.Body.Empty() && sample(ep.reqSampled, ep.calls, cfg) && (isJSON(reqCT) || renderedJSON(tx, &req.Body)) {
			ep.reqSampled++
			if ep.reqSchema == nil {
				ep.reqSchema = &schemaTree{names: t.names}
			}
			ep.reqSchema.infer(req.Body.Bytes())
		}
	}

	// response
	status := 0
	if resp != nil {
		status = resp.Status
		ep.respBytes += uint64(resp.HeadSize) + uint64(resp.Body.WireBytes)
		if !resp.End.IsZero() {
			if d := resp.Start.Sub(req.End); d >= 0 {
				ep.t.add(tLatency, uint32(latIndex(d)), 1, 0)
			}
		}
		for i := range resp.Headers {
			h := &resp.Headers[i]
			if h.Known() == http1.IDContentType {
				ep.count(tRespCT, t.ctID(h.Value), 1)
				// sampled first: a response body is decoded only if read
				if !resp.Body.Empty() && sample(uint64(ep.respSampled), ep.calls, cfg) && (isJSON(h.Value) || renderedJSON(tx, &resp.Body)) && len(resp.Body.Bytes()) > 0 {
					ep.respSampled++
					if st := ep.schemaFor(status, t.names); st != nil {
						st.infer(resp.Body.Bytes())
					}
				}
				break
			}
		}
	}
	if status < 0 || status > 999 {
		status = 999
	}
	ep.count(tStatus, uint32(status), 1)

	if c := tx.Notes.Conformance; c != "" {
		if i, ok := confIndex(c); ok {
			ep.t.add(tConf, i, 1, 0)
		}
		for i, v := 0, tx.Notes.Violations; v != 0; i, v = i+1, v>>1 {
			if v&1 != 0 {
				ep.t.add(tViolation, uint32(i), 1, 0)
			}
		}
	}
	countBits(&ep.t, tAttack, uint64(tx.Notes.Attacks))
	if tx.Notes.AttackSucceeded {
		ep.t.add(tMisc, miscSucceeded, 1, 0)
	}
	countBits(&ep.t, tAbuse, uint64(tx.Notes.Abuse))
	countBits(&ep.t, tMisconfig, uint64(tx.Notes.Misconfig))
	countBits(&ep.t, tSensReq, tx.Notes.SensitiveRequest)
	countBits(&ep.t, tSensResp, tx.Notes.SensitiveResponse|tx.Notes.SensitiveInferred) // estimates for responses outside the sample
	if resp != nil && !resp.Body.Empty() {
		ep.t.add(tMisc, miscRespBodies, 1, 0)
		if tx.Notes.ResponseScanned {
			ep.t.add(tMisc, miscRespScanned, 1, 0)
		}
	}
	if looksGraphQL(req) {
		t.recordGraphQL(ep, tx)
	}
	f := tx.Flags
	switch {
	case f&http1.FlagParseError != 0:
		ep.t.add(tComp, compParseError, 1, 0)
	case f&(http1.FlagGap|http1.FlagMidStreamStart) != 0:
		ep.t.add(tComp, compGap, 1, 0)
	case f&(http1.FlagTruncated|http1.FlagHeadersTruncated|http1.FlagDecodeError) != 0:
		ep.t.add(tComp, compTruncated, 1, 0)
	case resp == nil:
		ep.t.add(tComp, compNoResponse, 1, 0)
	}
}

// countBits counts each set bit of v under its bit number.
func countBits(t *tally, table int, v uint64) {
	for v != 0 {
		b := mbits.TrailingZeros64(v)
		v &= v - 1
		t.add(table, uint32(b), 1, 0)
	}
}

// sample says whether to infer a body's schema: the first SchemaSamples
// bodies of an endpoint, then one call in SchemaSampleEvery.
func sample[N uint32 | uint64](done N, calls uint64, cfg *Config) bool {
	return uint64(done) < uint64(cfg.SchemaSamples) || calls%uint64(cfg.SchemaSampleEvery) == 0
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

// ctCache remembers the name ids of the last content types seen (as
// sent): the common ones cost a comparison or two instead of mediaType
// and a map lookup. An id never changes once given (names only grows).
type ctCache struct {
	raw  [4]string
	id   [4]uint32
	next int
}

// ctID is the name id of the media type of a Content-Type value.
func (t *trie) ctID(v string) uint32 {
	c := &t.cts
	if v != "" {
		for i := range c.raw {
			if c.raw[i] == v {
				return c.id[i]
			}
		}
	}
	id := t.names.id(mediaType(v))
	if v != "" && len(v) <= 256 {
		c.raw[c.next], c.id[c.next] = strings.Clone(v), id
		c.next = (c.next + 1) % len(c.raw)
	}
	return id
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
		auth[id] = n == "authorization" || n == "cookie" || identity.IsAPIKeyID(id)
	}
	return
}()

// sensitiveName names a sensitive type number.
func sensitiveName(i uint32) string {
	if int(i) < len(event.SensitiveTypes) {
		return event.SensitiveTypes[i]
	}
	return "other"
}

// latency histogram: bucket i holds durations below latBase*2^(i/2).
const (
	latBuckets = 48
	latBase    = 100 * time.Microsecond
)

// latIndex is the bucket of d (a binary search over the bounds: no
// logarithm).
func latIndex(d time.Duration) int {
	lo, hi := 0, latBuckets-1
	for lo < hi {
		if m := (lo + hi + 1) / 2; latBounds[m] <= d {
			lo = m
		} else {
			hi = m - 1
		}
	}
	return lo
}

// latBucket is the bucket of d by its definition.
func latBucket(d time.Duration) int {
	i := 0
	if d >= latBase {
		i = int(2*math.Log2(float64(d)/float64(latBase))) + 1
	}
	return min(i, latBuckets-1)
}

// latBounds[i] is the shortest duration in bucket i (found with latBucket,
// which grows with d, so latIndex agrees with it to the nanosecond).
var latBounds = func() (b [latBuckets]time.Duration) {
	for i := 1; i < latBuckets; i++ {
		lo, hi := b[i-1], latBase<<(latBuckets/2+1)
		for lo < hi {
			if m := lo + (hi-lo)/2; latBucket(m) >= i {
				hi = m
			} else {
				lo = m + 1
			}
		}
		b[i] = lo
	}
	return
}()

// latQuantile returns the upper bound of the latency bucket holding
// quantile q, in milliseconds (0 without samples).
func latQuantile(t tally, q float64) float64 {
	total := t.sum(tLatency)
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var acc uint64
	out := 0.0
	done := false
	t.each(tLatency, func(k uint32, n uint64) {
		if done {
			return
		}
		acc += n
		if acc >= want {
			up := float64(latBase) * math.Pow(2, float64(k)/2)
			out, done = roundTo(up/float64(time.Millisecond), 3), true
		}
	})
	return out
}

func roundTo(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
