package sensitive

import (
	"net/netip"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// Responses is the analyzer's stage-two part (analyzer.Descriptor
// NewOrdered): it scans response bodies. Stage two sees every
// connection's transactions in capture order, so it learns per endpoint
// (method, path template, whether the request carried credentials, and
// for GraphQL the operations asked for)
// what its responses hold, and once that is stable scans only a
// deterministic sample of them, and everything new or odd:
//
//   - the first learn_responses responses of an endpoint, and until
//     learn_responses scans in a row found no type it had not shown;
//   - a status class, a content type or a body size (over 1.5 times the
//     largest scanned) the endpoint has not shown;
//   - the first response of an endpoint that returned personal or secret
//     data to a client it did not answer before (per-actor counts);
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
	a       *Analyzer
	eps     map[uint64]*learned
	clients map[netip.Addr]struct{}
	emit    foldEmitter
}

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

// Bounds of the learning tables; a full table starts over (in capture
// order, so deterministically).
const (
	maxLearned = 1 << 16
	maxClients = 1 << 16
)

// NewResponses builds the stage-two part.
func NewResponses(cfg *Config, folder analyzer.Folder) (*Responses, error) {
	a, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Responses{a: a, eps: map[uint64]*learned{}, clients: map[netip.Addr]struct{}{}, emit: foldEmitter{f: folder}}, nil
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
	h := endpointHash(req.Method, req.Path)
	if tx.Notes.Authenticated {
		h = fnv1a(h, "+")
	}
	if op := tx.Notes.GraphQLOps; op != 0 {
		h = (h ^ op) * fnvPrime // one GraphQL endpoint, many operations
	}
	e := r.eps[h]
	if e == nil {
		if len(r.eps) >= maxLearned {
			clear(r.eps)
		}
		e = &learned{}
		r.eps[h] = e
	}
	class := uint8(0)
	if c := resp.Status / 100; c >= 1 && c <= 5 {
		class = 1 << c
	}
	ctype := http1.Get(resp.Headers, http1.IDContentType)
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
		a.decide(tx, emit)
		return
	}
	r.emit.e = emit
	a.decide(tx, &r.emit)
	r.emit.e = nil
}

// endpointHash identifies a request's endpoint for learning: its method
// and path, with the segments discovery's recognisers take for
// parameters (ids, UUIDs, hashes, dates...) replaced by their kind.
// Unlike a template it allocates nothing.
func endpointHash(method, path string) uint64 {
	h := fnv1a(fnv1a(fnvOffset, method), " ")
	discovery.Segments(path, func(seg string) bool {
		h = (h ^ '/') * fnvPrime
		if k := discovery.Classify(seg); k != discovery.KindLiteral {
			h = (h ^ uint64(k) ^ 0x100) * fnvPrime
			return true
		}
		h = fnv1a(h, seg)
		return true
	})
	return h
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
		if r.newClient(tx.ClientAddr()) {
			return true // personal data: who receives it is worth a scan
		}
		every = min(every, cfg.HotSampleEvery)
	}
	return sampled(tx, every)
}

// newClient says whether addr is answered for the first time (and
// remembers it).
func (r *Responses) newClient(addr netip.Addr) bool {
	if _, ok := r.clients[addr]; ok {
		return false
	}
	if len(r.clients) >= maxClients {
		clear(r.clients)
	}
	r.clients[addr] = struct{}{}
	return true
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
