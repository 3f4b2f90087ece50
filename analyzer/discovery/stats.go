package discovery

import (
	"maps"
	"math"
	mbits "math/bits"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly/http1"
)

// Bounds of the per-endpoint tables; what does not fit is counted in the
// "(other)" entry of the table or in epStats.cut.
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

// paramStat is what is known of one query parameter: never its values.
type paramStat struct {
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

// latency histogram: bucket i holds durations below latBase*2^(i/2).
const (
	latBuckets = 48
	latBase    = 100 * time.Microsecond
)

type latHist struct {
	n [latBuckets]uint32
}

func (h *latHist) add(d time.Duration) {
	if d < 0 {
		return
	}
	// the last bound at or below d (a binary search: no logarithm)
	lo, hi := 0, latBuckets-1
	for lo < hi {
		if m := (lo + hi + 1) / 2; latBounds[m] <= d {
			lo = m
		} else {
			hi = m - 1
		}
	}
	h.n[lo]++
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
// which grows with d, so add agrees with it to the nanosecond).
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

func (h *latHist) merge(o *latHist) {
	for i, v := range o.n {
		h.n[i] += v
	}
}

// quantile returns the upper bound of the bucket holding quantile q, in
// milliseconds (0 without samples).
func (h *latHist) quantile(q float64) float64 {
	var total uint64
	for _, v := range h.n {
		total += uint64(v)
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var acc uint64
	for i, v := range h.n {
		acc += uint64(v)
		if acc >= want {
			up := float64(latBase) * math.Pow(2, float64(i)/2)
			return roundTo(up/float64(time.Millisecond), 3)
		}
	}
	return 0
}

func roundTo(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// completeness counts how much of each transaction was seen.
type completeness struct {
	whole, gap, truncated, noResponse, parseError uint64
}

func (c *completeness) merge(o *completeness) {
	c.whole += o.whole
	c.gap += o.gap
	c.truncated += o.truncated
	c.noResponse += o.noResponse
	c.parseError += o.parseError
}

// epStats is everything the catalog knows of one (host, method, path node).
type epStats struct {
	calls       uint64
	first, last time.Time
	status      map[int]uint64 // 0: no response; -1: (other)
	query       map[string]*paramStat
	headers     map[string]uint64
	known       []hdrCount // well-known request headers, by ID; merge moves them into headers
	reqCT       map[string]uint64
	respCT      map[string]uint64
	reqSchema   *schemaTree
	respSchema  map[int]*schemaTree // by status
	reqSampled  uint64
	respSampled uint64
	auth        [numAuth]uint64
	jwtAlgs     map[string]uint64
	jwtIss      map[string]uint64
	keyNames    map[string]uint64 // names of API key headers and query parameters
	ips, users  sketch
	countries   map[string]uint64 // with a GeoIP database
	networks    map[string]uint64 // with an ASN database
	hours       map[int64]uint64  // unix hour -> calls
	lat         latHist
	reqBytes    uint64
	respBytes   uint64
	comp        completeness
	conf        map[string]uint64 // calls by conformance status (with specs)
	attacks     [32]uint64        // calls by attack class bit (Notes.Attacks)
	succeeded   uint64            // calls where an attack seemed to work
	misconfig   [8]uint64         // calls by misconfiguration bit (Notes.Misconfig)
	abuse       [16]uint64        // calls by behaviour class bit (Notes.Abuse)
	violations  [8]uint64         // calls by conformance violation bit
	sensReq     map[string]uint64 // calls whose request carried a sensitive type
	sensResp    map[string]uint64 // ... whose response did
	// while recording: sensitive types by number (merge moves them into
	// sensReq and sensResp), and calls of the last hour not yet in hours
	typesReq, typesResp []typeCount
	hourLast            int64
	hourPend            uint64
	cut                 uint64     // table entries not added because of a bound
	h2, grpcCalls       uint64     // calls over HTTP/2, of which gRPC ones
	grpc                *grpcStats // gRPC methods (grpc.go)
}

// countIn adds n to m[k] when k is known or m has room; otherwise it
// counts the key as cut.
func countIn[K comparable](m *map[K]uint64, k K, n uint64, max int, cut *uint64) {
	if *m == nil {
		*m = map[K]uint64{}
	}
	if _, ok := (*m)[k]; !ok && len(*m) >= max {
		*cut += n
		return
	}
	(*m)[k] += n
}

// countStr is countIn for string keys from transaction memory: a new key
// is copied so the catalog does not pin packet buffers.
func countStr(m *map[string]uint64, k string, max int, cut *uint64) {
	if *m == nil {
		*m = map[string]uint64{}
	}
	if _, ok := (*m)[k]; !ok {
		if len(*m) >= max {
			*cut++
			return
		}
		k = strings.Clone(k)
	}
	(*m)[k]++
}

// typeCount counts a sensitive type by number (event.SensitiveTypes).
type typeCount struct {
	t int
	n uint64
}

// countTypes counts each sensitive type whose bit is set, in a short list
// (cheaper than a map of names on every call).
func countTypes(l *[]typeCount, bits uint64) {
	for bits != 0 {
		t := mbits.TrailingZeros64(bits)
		bits &= bits - 1
		if t >= len(event.SensitiveTypes) {
			return
		}
		i := 0
		for i < len(*l) && (*l)[i].t != t {
			i++
		}
		if i == len(*l) {
			*l = append(*l, typeCount{t: t}) // at most 64
		}
		(*l)[i].n++
	}
}

// withTypes returns m with the counts of l added by name.
func withTypes(m map[string]uint64, l []typeCount) map[string]uint64 {
	if len(l) == 0 {
		return m
	}
	out := maps.Clone(m)
	if out == nil {
		out = map[string]uint64{}
	}
	for _, c := range l {
		out[event.SensitiveTypes[c.t]] += c.n
	}
	return out
}

// flushHour moves the pending calls of the last hour into hours (unless
// trimming removed that hour at once: it was older than every kept one,
// and each of its calls would have been trimmed away in turn).
func (e *epStats) flushHour() {
	if _, ok := e.hours[e.hourLast]; ok && e.hourPend > 0 {
		e.hours[e.hourLast] += e.hourPend
	}
	e.hourPend = 0
}

// hdrCount counts a well-known header name.
type hdrCount struct {
	id http1.HeaderID
	n  uint64
}

// countKnown counts a well-known request header: a short list searched in
// order, cheaper than a map of names (a request has a dozen headers).
func (e *epStats) countKnown(id http1.HeaderID) {
	for i := range e.known {
		if e.known[i].id == id {
			e.known[i].n++
			return
		}
	}
	if len(e.known)+len(e.headers) >= maxHeaders { // one bound for both lists, first come first kept
		e.cut++
		return
	}
	e.known = append(e.known, hdrCount{id, 1})
}

// merge adds o (a copy from another worker or a folded sibling) into e.
func (e *epStats) merge(o *epStats) {
	e.calls += o.calls
	if e.first.IsZero() || (!o.first.IsZero() && o.first.Before(e.first)) {
		e.first = o.first
	}
	if o.last.After(e.last) {
		e.last = o.last
	}
	for _, k := range slices.Sorted(maps.Keys(o.status)) {
		countIn(&e.status, k, o.status[k], maxStatus, &e.cut)
	}
	for _, k := range slices.Sorted(maps.Keys(o.query)) {
		p, ok := e.query[k]
		if !ok {
			if len(e.query) >= maxQueryParams {
				e.cut += o.query[k].count
				continue
			}
			if e.query == nil {
				e.query = map[string]*paramStat{}
			}
			p = &paramStat{}
			e.query[k] = p
		}
		p.merge(o.query[k])
	}
	hdrs := o.headers
	if len(o.known) > 0 { // names in one sorted merge, as if counted by name
		hdrs = maps.Clone(o.headers)
		if hdrs == nil {
			hdrs = map[string]uint64{}
		}
		for _, k := range o.known {
			hdrs[http1.KnownName(k.id)] += k.n
		}
	}
	mergeCounts(&e.headers, hdrs, maxHeaders, &e.cut)
	mergeCounts(&e.reqCT, o.reqCT, maxContentTypes, &e.cut)
	mergeCounts(&e.respCT, o.respCT, maxContentTypes, &e.cut)
	mergeCounts(&e.jwtAlgs, o.jwtAlgs, maxAuthNames, &e.cut)
	mergeCounts(&e.jwtIss, o.jwtIss, maxAuthNames, &e.cut)
	mergeCounts(&e.keyNames, o.keyNames, maxAuthNames, &e.cut)
	mergeCounts(&e.countries, o.countries, maxOrigins, &e.cut)
	mergeCounts(&e.sensReq, withTypes(o.sensReq, o.typesReq), 64, &e.cut)
	mergeCounts(&e.conf, o.conf, 8, &e.cut)
	for i, v := range o.violations {
		e.violations[i] += v
	}
	for i, v := range o.attacks {
		e.attacks[i] += v
	}
	for i, v := range o.misconfig {
		e.misconfig[i] += v
	}
	for i, v := range o.abuse {
		e.abuse[i] += v
	}
	e.succeeded += o.succeeded
	mergeCounts(&e.sensResp, withTypes(o.sensResp, o.typesResp), 64, &e.cut)
	mergeCounts(&e.networks, o.networks, maxOrigins, &e.cut)
	if o.reqSchema != nil {
		if e.reqSchema == nil {
			e.reqSchema = &schemaTree{}
		}
		e.reqSchema.merge(o.reqSchema)
	}
	for _, st := range slices.Sorted(maps.Keys(o.respSchema)) {
		s, ok := e.respSchema[st]
		if !ok {
			if len(e.respSchema) >= maxRespSchemas {
				continue
			}
			if e.respSchema == nil {
				e.respSchema = map[int]*schemaTree{}
			}
			s = &schemaTree{}
			e.respSchema[st] = s
		}
		s.merge(o.respSchema[st])
	}
	e.reqSampled += o.reqSampled
	e.respSampled += o.respSampled
	for i, v := range o.auth {
		e.auth[i] += v
	}
	e.ips.merge(&o.ips)
	e.users.merge(&o.users)
	for h, v := range o.hours {
		if e.hours == nil {
			e.hours = map[int64]uint64{}
		}
		e.hours[h] += v
	}
	if _, ok := o.hours[o.hourLast]; ok && o.hourPend > 0 {
		e.hours[o.hourLast] += o.hourPend
	}
	trimHours(e.hours)
	e.lat.merge(&o.lat)
	e.reqBytes += o.reqBytes
	e.respBytes += o.respBytes
	e.comp.merge(&o.comp)
	e.cut += o.cut
	e.h2 += o.h2
	e.grpcCalls += o.grpcCalls
	e.mergeGRPC(o)
}

func mergeCounts(dst *map[string]uint64, src map[string]uint64, max int, cut *uint64) {
	for _, k := range slices.Sorted(maps.Keys(src)) {
		countIn(dst, k, src[k], max, cut)
	}
}

// trimHours keeps the newest maxHours buckets.
func trimHours(m map[int64]uint64) {
	if len(m) <= maxHours {
		return
	}
	hs := make([]int64, 0, len(m))
	for h := range m {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
	for _, h := range hs[:len(hs)-maxHours] {
		delete(m, h)
	}
}
