package discovery

// tally holds every counter of an endpoint in one sorted slice of
// (key, count) pairs: the key is a table (status codes, hours, latency
// buckets, header names, ...) and a 24-bit key inside it. A one-call
// endpoint costs a few pairs instead of a dozen maps; the common update
// (a key already present) is a binary search.
type tally []uint64

// Tables of a tally. Keys are status codes, hours since 2000, latency
// buckets, interned name ids (see names), kinds and bit numbers.
const (
	tStatus      = iota + 1 // status code (0: no response)
	tHour                   // hours since 2000-01-01 UTC
	tLatency                // latency bucket
	tHeader                 // request header name id
	tReqCT                  // request content type name id
	tRespCT                 // response content type name id
	tAuth                   // auth kind
	tComp                   // completeness kind (compGap, ...; whole calls are not counted)
	tSensReq                // sensitive type number, request
	tSensResp               // sensitive type number, response
	tAttack                 // Notes.Attacks bit
	tMisconfig              // Notes.Misconfig bit
	tAbuse                  // Notes.Abuse bit
	tViolation              // conformance violation bit
	tConf                   // conformance status (confIndex)
	tProbe                  // probe class (probeClass)
	tKeyName                // API key header/parameter and session cookie name id
	tJWTAlg                 // JWT alg name id
	tJWTIss                 // JWT issuer name id
	tCountry                // client country name id
	tNetwork                // client network name id
	tMisc                   // miscMax..: single counters
	tGRPCKind               // gRPC streaming kind (grpc.Kind)
	tGRPCStatus             // gRPC status code + 1 (0: no status seen)
	tGRPCService            // gRPC service name id
	tGRPCMethod             // gRPC method name id
)

// Single counters of table tMisc.
const (
	miscSucceeded    = iota // calls where an attack seemed to work
	miscH2                  // calls over HTTP/2
	miscGRPC                // ... of which gRPC calls
	miscGRPCSchema          // gRPC calls whose kind came from the descriptor set
	miscGRPCReqMsgs         // gRPC request messages
	miscGRPCRespMsgs        // gRPC response messages
	miscRespBodies          // responses with a body
	miscRespScanned         // ... of which the sensitive analyzer scanned (Notes.ResponseScanned)
)

const (
	tallyKeyBits = 24
	tallyKeyMask = 1<<tallyKeyBits - 1
)

func tkey(table int, k uint32) uint64 { return uint64(table)<<tallyKeyBits | uint64(k&tallyKeyMask) }

// find returns the index of key k's pair (or where it would go) and
// whether it is there.
func (t tally) find(k uint64) (int, bool) {
	// sort.Search's binary search, inline (this runs several times for
	// every call an endpoint records)
	n := len(t) / 2
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t[2*m] < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < n && t[2*lo] == k
}

// add adds n to key k of table; a new key is added only while the table
// has fewer than max keys (max <= 0: no bound). It reports whether the
// count was kept.
func (t *tally) add(table int, k uint32, n uint64, max int) bool {
	key := tkey(table, k)
	i, ok := t.find(key)
	if ok {
		(*t)[2*i+1] += n
		return true
	}
	if max > 0 && t.tableLen(table) >= max {
		return false
	}
	s := *t
	s = append(s, 0, 0)
	copy(s[2*i+2:], s[2*i:])
	s[2*i], s[2*i+1] = key, n
	*t = s
	return true
}

// get returns the count of key k of table.
func (t tally) get(table int, k uint32) uint64 {
	if i, ok := t.find(tkey(table, k)); ok {
		return t[2*i+1]
	}
	return 0
}

// span returns the pair indexes [lo, hi) of a table.
func (t tally) span(table int) (int, int) {
	lo, _ := t.find(tkey(table, 0))
	hi, _ := t.find(tkey(table+1, 0))
	return lo, hi
}

func (t tally) tableLen(table int) int {
	lo, hi := t.span(table)
	return hi - lo
}

// each calls fn for every key of a table in key order.
func (t tally) each(table int, fn func(k uint32, n uint64)) {
	lo, hi := t.span(table)
	for i := lo; i < hi; i++ {
		fn(uint32(t[2*i]&tallyKeyMask), t[2*i+1])
	}
}

// sum is the total count of a table.
func (t tally) sum(table int) uint64 {
	var s uint64
	t.each(table, func(_ uint32, n uint64) { s += n })
	return s
}

// drop removes the keys of a table below k (trimming old hours).
func (t *tally) dropBelow(table int, k uint32) {
	lo, _ := t.span(table)
	end, _ := t.find(tkey(table, k))
	if end <= lo {
		return
	}
	s := *t
	s = append(s[:2*lo], s[2*end:]...)
	*t = s
}

// merge adds o into t with the per-table bounds of maxOf; keys that do
// not fit are counted in cut.
func (t *tally) merge(o tally, maxOf func(table int) int, cut *uint64) {
	if len(*t) == 0 && len(o) > 0 {
		*t = append(tally(nil), o...)
		return
	}
	for i := 0; i+1 < len(o); i += 2 {
		table := int(o[i] >> tallyKeyBits)
		if !t.add(table, uint32(o[i]&tallyKeyMask), o[i+1], maxOf(table)) {
			*cut += o[i+1]
		}
	}
}
