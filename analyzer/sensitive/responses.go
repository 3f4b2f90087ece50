package sensitive

import (
	"math"
	"net/netip"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/generations"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Responses is the analyzer's stage-two part (analyzer.Descriptor
// NewOrdered): it scans response bodies. Stage two sees every
// connection's transactions in capture order, so it learns per endpoint
// (host, method, path template, whether the request carried credentials,
// and for GraphQL the operations asked for) what its responses hold, and
// once that is stable scans only a deterministic sample of them, and
// everything new or odd:
//
//   - the first learn_responses responses of an endpoint, and until
//     learn_responses scans in a row found no type it had not shown;
//   - a status class, a content type or a body size (over 1.5 times the
//     largest scanned) the endpoint has not shown;
//   - on an endpoint that returned personal or secret data, the first
//     response to an actor no such endpoint answered before (one table for
//     all endpoints; see actorKey);
//   - one in sample_every of the rest, chosen by a hash of the connection
//     and the transaction's number in it, or one in hot_sample_every when
//     the endpoint returned personal or secret data.
//
// The choice depends on nothing but the transactions in capture order, so
// the output does not depend on the number of workers. A body that is not
// scanned is not decoded either (http1.Body decodes when read); its
// transaction carries the endpoint's last scanned types as an estimate
// (Notes.SensitiveInferred).
type Responses struct {
	a      *Analyzer
	eps    generations.Map[uint64, *learned]
	actors generations.Map[uint64, struct{}] // actorKey of those answered
	emit   foldEmitter
	// Literal segments folded into parameters (see endpoint): the
	// positions (host, method and the path before them, as keyed) and
	// the literals seen at each, with their 2xx JSON answers.
	pos      map[uint64]*position
	literals map[uint64]*literal
}

// position counts the literal segments answered with 2xx JSON at one
// place of a host's paths (method and the segments before it).
type position struct {
	requests          uint32
	distinct, singles uint32 // literals, and those answered once
	folded            bool
	top               bool // the first segments of the path, or those after a version: resources
	// the first foldClients clients that asked for a new literal: one
	// client (a scanner, a crawler) does not fold a position
	clients  [foldClients]uint64
	nclients uint8
}

// sawClient notes the client of a new literal.
func (p *position) sawClient(a netip.Addr) {
	if int(p.nclients) == len(p.clients) {
		return
	}
	c := addrHash(a)
	for _, k := range p.clients[:p.nclients] {
		if k == c {
			return
		}
	}
	p.clients[p.nclients] = c
	p.nclients++
}

// literal counts one literal segment's 2xx answers at its position.
type literal struct {
	p    *position
	n    uint32
	kept bool // had its own share of the position's answers once: never folds
}

// foldLiterals: a position folds its literal segments into a parameter
// once it has answered foldRequests requests with at least this many
// different ones, half of them only once (slugs:
// /blog/posts/my-first-post); a literal that had at least foldKeep
// answers and one in foldShare of the position's at some point stays
// literal. Only 2xx JSON answers count. A set of resources (/api/users,
// /api/orders...) is asked again and again and stays literal, and so do
// paths answered with errors, which a scanner's probes mostly get.
const (
	foldLiterals = 16
	foldRequests = 3 * foldLiterals
	foldKeep     = 4
	foldShare    = 8
	// foldClients: the new literals of a position came from at least
	// this many clients (a scanner on a host that answers any path with
	// 2xx JSON does not fold it alone)
	foldClients = 3
	// foldTopLiterals: the first segments of a path, and those after an
	// API version, are resources (/v1/users, /v1/invoices...): they fold
	// only when there are this many, as the catalog folds them at
	// fold_max_literals (a flood of new paths).
	foldTopLiterals = 64
)

// learned is what the scanned responses of one endpoint showed.
type learned struct {
	last    uint64 // types of the last scanned response
	union   uint64 // types of all scanned responses
	scans   uint32
	streak  uint32 // scans in a row that found no new type
	classes uint8  // status classes scanned (bit 1 for 1xx to bit 5 for 5xx)
	maxWire int64  // largest body scanned, as sent
	ctype   uint64 // hash of the content type of the last scanned response
}

// Bounds of the learning tables. The endpoints learned and the actors
// answered are kept in two generations (package generations); the full fold
// tables keep only the literals kept for good (makeRoom). Either way in
// capture order, so deterministically.
const (
	maxLearned = 1 << 16
	maxActors  = 1 << 16
)

// NewResponses builds the stage-two part.
func NewResponses(cfg *Config, folder analyzer.Folder) (*Responses, error) {
	a, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Responses{a: a, eps: generations.New[uint64, *learned](maxLearned), actors: generations.New[uint64, struct{}](maxActors), emit: foldEmitter{f: folder},
		pos: map[uint64]*position{}, literals: map[uint64]*literal{}}, nil
}

// Name implements analyzer.Analyzer.
func (r *Responses) Name() string { return Name }

// Analyze scans the response body if the sample says so.
func (r *Responses) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	req, resp := tx.Request, tx.Response
	if req == nil || resp == nil || resp.Body.Empty() {
		return
	}
	a := r.a
	ctype := http1.Get(resp.Headers, http1.IDContentType)
	host := hostHash(req.Host)
	if req.Host == "" { // as the detection's endpoint: the server's address
		s := tx.Flow.Server
		host = (addrHash(s.Addr()) ^ uint64(s.Port())) * fnvPrime
	}
	h, fold := r.endpoint(host, req.Method, req.Path, resp.Status/100 == 2 && discovery.IsJSON(ctype), tx.ClientAddr())
	if tx.Notes.Authenticated {
		h = fnv1a(h, "+")
	}
	if op := tx.Notes.GraphQLOps; op != 0 {
		h = (h ^ op) * fnvPrime // one GraphQL endpoint, many operations
	}
	e, ok := r.eps.Get(h)
	if !ok {
		e = &learned{}
		r.eps.Put(h, e)
	}
	class := uint8(0)
	if c := resp.Status / 100; c >= 1 && c <= 5 {
		class = 1 << c
	}
	ct := fnv1a(fnvOffset, ctype)
	if !r.choose(tx, e, class, ct) {
		tx.Notes.SensitiveInferred = e.last
		return
	}
	a.reset()
	a.authedNote = tx.Notes.Authenticated
	a.loc = locRespBody
	a.body(resp.Body.Bytes(), ctype)
	found := a.seen[locRespBody]
	if e.scans > 0 && found&^e.union == 0 {
		e.streak++
	} else {
		e.streak = 1
	}
	e.scans++
	e.last, e.union = found, e.union|found
	e.classes |= class
	e.maxWire = max(e.maxWire, resp.Body.WireBytes)
	e.ctype = ct
	tx.Notes.ResponseScanned = true
	tx.Notes.SensitiveResponse |= found
	if found == 0 {
		return
	}
	if r.emit.f == nil { // no stage two to fold with: this part's aggregators
		a.decide(tx, fold, emit)
	} else {
		r.emit.e = emit
		a.decide(tx, fold, &r.emit)
		r.emit.e = nil
	}
}

// endpoint identifies a request's endpoint for learning: a hash of its
// host (hostHash, or addrHash of the server), method and path, with the segments discovery's
// recognisers take for parameters (ids, UUIDs, hashes, dates...)
// replaced by their kind, and so are the literal segments of a position
// that answered too many different ones (folds): fold has a bit set for
// each of those, by place as discovery.TemplateFolding takes it. ok says
// the response was a 2xx JSON one, whose literals count (client asked
// for it: a position folds only on several clients' literals). As in the
// catalog, the first segments (of the path, or after an API version) are
// resources that fold only when there are very many of them, and
// versions, well-known words (me, search) and gRPC methods never fold.
// Unlike a template it allocates nothing.
func (r *Responses) endpoint(host uint64, method, path string, ok bool, client netip.Addr) (h uint64, fold uint32) {
	h = fnv1a(fnv1a(host, " "), method)
	h = (h ^ ' ') * fnvPrime
	depth, top := 0, true
	discovery.Segments(path, func(seg string) bool {
		h = (h ^ '/') * fnvPrime
		k := discovery.Classify(seg)
		if k != discovery.KindLiteral {
			h = (h ^ uint64(k) ^ 0x100) * fnvPrime
		} else if lit := fnv1a(h, seg); depth < 32 && r.folds(h, lit, ok, top, client) &&
			discovery.Foldable(seg) && !discovery.GRPCShaped(path) { // checked only where the position folds
			h = (h ^ uint64(discovery.KindSlug) ^ 0x100) * fnvPrime
			fold |= 1 << depth
		} else {
			h = lit
		}
		top = k == discovery.KindLiteral && discovery.IsVersion(seg)
		depth++
		return true
	})
	return h, fold
}

// hostHash is the FNV-1a hash of a host name in lower case.
func hostHash(host string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// addrHash is the FNV-1a hash of an address (IPv4 in its IPv6 form).
func addrHash(a netip.Addr) uint64 {
	h := uint64(fnvOffset)
	for _, b := range a.As16() {
		h = (h ^ uint64(b)) * fnvPrime
	}
	return h
}

// folds says whether a literal segment (lit: its key, at: its
// position's; top: the position is the first of the path or follows a
// version) is folded into a parameter, counting it (and its client) if
// ok: in a folded
// position every literal but those that had a share of the position's
// answers of their own (kept: /blog/posts/drafts among the posts'
// slugs). A literal seen before costs one lookup.
func (r *Responses) folds(at, lit uint64, ok, top bool, client netip.Addr) bool {
	l := r.literals[lit]
	if l == nil {
		p := r.pos[at]
		if !ok {
			return p != nil && p.folded
		}
		if len(r.pos) >= maxLearned || len(r.literals) >= maxLearned {
			r.makeRoom()
			p = r.pos[at]
		}
		if p == nil {
			p = &position{top: top}
			r.pos[at] = p
		}
		l = &literal{p: p}
		r.literals[lit] = l
	}
	p := l.p
	if !ok {
		return p.folded && !l.kept
	}
	if l.n < math.MaxUint32 {
		l.n++
	}
	switch l.n {
	case 1:
		p.distinct++
		p.singles++
		p.sawClient(client)
	case 2:
		p.singles--
	}
	if p.requests < math.MaxUint32 {
		p.requests++
	}
	if !l.kept && l.n >= foldKeep && uint64(l.n)*foldShare >= uint64(p.requests) {
		l.kept = true // for good: a flood of new literals does not fold what was established
	}
	if !p.folded && p.requests >= foldRequests && p.distinct >= foldLiterals && 2*p.singles >= p.distinct &&
		int(p.nclients) >= foldClients && (!p.top || p.distinct >= foldTopLiterals) {
		p.folded = true
	}
	return p.folded && !l.kept
}

// makeRoom makes room in the full fold tables: it forgets every literal
// but those kept for good, and every position but theirs, whose counts
// start again from their kept literals' (a folded position stays
// folded); when those fill half the tables, it forgets everything. The
// result is the same whatever the order the maps are walked in, so it
// depends on the capture order only.
func (r *Responses) makeRoom() {
	for k, l := range r.literals {
		if !l.kept {
			delete(r.literals, k)
		}
	}
	if len(r.literals) >= maxLearned/2 {
		clear(r.pos)
		clear(r.literals)
		return
	}
	for _, p := range r.pos {
		p.requests, p.distinct, p.singles = 0, 0, 0
	}
	for _, l := range r.literals {
		p := l.p
		p.requests = uint32(min(uint64(p.requests)+uint64(l.n), math.MaxUint32))
		p.distinct++ // kept: answered more than once
	}
	for k, p := range r.pos {
		if p.distinct == 0 { // no kept literal
			delete(r.pos, k)
		}
	}
}

// choose says whether to scan the response (see Responses).
func (r *Responses) choose(tx *reassembly.Transaction, e *learned, class uint8, ct uint64) bool {
	cfg := r.a.cfg
	wire := tx.Response.Body.WireBytes
	switch {
	case e.scans == 0 || e.streak < uint32(cfg.LearnResponses):
		return true // learning
	case e.classes&class == 0, e.ctype != ct, wire > e.maxWire+e.maxWire/2:
		return true // odd for the endpoint
	}
	every := cfg.SampleEvery
	if e.union&hotTypes != 0 {
		if r.newActor(actorKey(tx)) {
			return true // personal data: who receives it is worth a scan
		}
		every = min(every, cfg.HotSampleEvery)
	}
	return sampled(tx, every)
}

// newActor says whether the actor (actorKey) is answered for the first
// time, and remembers it.
func (r *Responses) newActor(k uint64) bool {
	if _, ok := r.actors.Get(k); ok {
		return false
	}
	r.actors.Put(k, struct{}{})
	return true
}

// actorKey names who sent the request: the principal its credentials name
// (tx.Auth: a JWT's subject or client, a Basic or Digest user, the key id
// of a signature scheme), else its token (an opaque bearer token, another
// scheme's credential), else its API key header, else the client's
// address. Session cookies are not: a server answers 200 whatever
// cookies it does not know, so a client could be a new actor on every
// request, or many addresses one actor. A user who comes back from
// another address is not a new actor.
// Only credentials the server accepted (a status below 400, as the
// blocklist counts principals) name an actor: a client cannot make itself
// many actors with made-up tokens the server turns away.
func actorKey(tx *reassembly.Transaction) uint64 {
	if a := &tx.Auth; tx.Response.Status < 400 {
		switch {
		case a.Principal != "":
			return fnv1a(fnv1a(fnvOffset, "user:"), a.Principal)
		case a.Credential != "":
			return fnv1a(fnv1a(fnvOffset, "token:"), a.Credential)
		case a.APIKey != "":
			return fnv1a(fnv1a(fnvOffset, "key:"), a.APIKey)
		}
	}
	return addrHash(tx.ClientAddr())
}

// Flush implements analyzer.Flusher (findings are folded by stage two;
// this part's own aggregators only hold what had no folder).
func (r *Responses) Flush(now time.Time, emit analyzer.Emitter) { r.a.Flush(now, emit) }

// Finish implements analyzer.Finisher.
func (r *Responses) Finish(now time.Time, emit analyzer.Emitter) { r.a.Finish(now, emit) }

// foldEmitter hands the part's detections to stage two's emitter and its
// repeated findings to the folder stage one's findings go to, so that a
// finding both stages make is one detection.
type foldEmitter struct {
	e analyzer.Emitter
	f analyzer.Folder
}

// Detection implements analyzer.Emitter.
func (f *foldEmitter) Detection(d *event.Detection) { f.e.Detection(d) }

// Fold implements analyzer.Folder.
func (f *foldEmitter) Fold(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection) {
	f.f.Fold(spec, k, d)
}

// FoldLazy implements analyzer.LazyFolder (stage two's folder does; a
// folder that does not gets the evidence built).
func (f *foldEmitter) FoldLazy(spec analyzer.FoldSpec, k analyzer.FoldKey, d *event.Detection, ev analyzer.Evidencer, arg []byte) {
	if lf, ok := f.f.(analyzer.LazyFolder); ok {
		lf.FoldLazy(spec, k, d, ev, arg)
		return
	}
	d.Evidence = ev.Evidence(arg)
	f.f.Fold(spec, k, d)
}
