package sensitive

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/aggregate"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

type prefix = netip.Prefix

// parsePrefix accepts a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') < 0 {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

// personal are the types that identify a person or an account.
var personal = [numTypes]bool{TCard: true, TSSN: true, TIBAN: true, TEmail: true, TPhone: true, TDOB: true, TIMEI: true}

// severity of a type's exposure.
func typeSeverity(t Type) string {
	switch t {
	case TCard, TSSN, TSecret, TPassword, TCredentials, TJWT:
		return "high"
	case TIP:
		return "low"
	}
	return "medium"
}

var maxSeverity = aggregate.MaxSeverity

// finding is one detection decided for a transaction; its evidence is
// built (masked) only if the detection is new.
type finding struct {
	class, severity, rule string
	ev                    evRefs
	count                 int
	confidence            float64
	posture               bool // a posture finding: per host and kind, with clients
}

// evRef names the example of type t in location loc.
type evRef struct {
	loc uint8
	t   Type
}

// evRefs is a short list of examples, kept by value (no allocation).
type evRefs struct {
	n    int
	refs [numTypes]evRef
}

func one(loc int, t Type) evRefs {
	var e evRefs
	e.add(loc, t)
	return e
}

func (e *evRefs) add(loc int, t Type) {
	if e.n < len(e.refs) {
		e.refs[e.n] = evRef{uint8(loc), t}
		e.n++
	}
}

// typeRule are the rules of per-type findings ("unauthenticated_card").
var unauthRule = func() (r [numTypes]string) {
	for t := range r {
		r[t] = "unauthenticated_" + event.SensitiveTypes[t]
	}
	return
}()

// decide turns the transaction's findings into detections; fold has the
// places of the request path's folded segments (the stage-two part's, see
// Responses.endpoint; 0 in stage one).
func (a *Analyzer) decide(tx *reassembly.Transaction, fold uint32, emit analyzer.Emitter) {
	req := tx.Request
	out := a.out[:0]
	defer func() { a.out = out[:0] }()
	conf := 0.9
	if tx.Flags&(http1.FlagGap|http1.FlagTruncated|http1.FlagMidStreamStart|http1.FlagParseError) != 0 {
		conf = 0.7 // part of the exchange is missing
	}

	// sensitive data in the URL: it ends up in logs, proxies and history
	for _, loc := range []int{locPath, locQuery} {
		for _, t := range a.typesIn(loc) {
			if t == TIP {
				continue
			}
			sev := typeSeverity(t)
			if t == TCustom {
				sev = a.sev[a.customOf(loc)]
			}
			if t == TCredentials || t == TEmail || t == TPhone {
				sev = maxSeverity("medium", sev)
			}
			out = append(out, finding{class: "pii_in_url", severity: sev, rule: event.SensitiveTypes[t], ev: one(loc, t), count: a.counts[loc][t], confidence: conf})
		}
	}

	// credentials in clear text on the wire: a posture finding per host
	// and kind (see posture)
	terminated, known := false, false
	for _, loc := range []int{locHeader, locCookie, locBody, locQuery} {
		for _, t := range []Type{TCredentials, TPassword, TSecret} {
			if a.counts[loc][t] == 0 {
				continue
			}
			kind, sev := credentialKind(loc, t, a.ex[loc][t].rule)
			if !known {
				terminated, known = a.behindTLS(tx), true
			}
			if terminated && kind != "authorization_basic" && loc != locQuery {
				continue // the client's leg was encrypted: expected in clear text behind the terminator
			}
			out = append(out, finding{class: "plaintext_credentials", severity: sev, rule: kind, ev: one(loc, t), count: a.counts[loc][t], confidence: conf, posture: true})
		}
	}
	// personal data returned: to an unauthenticated caller, or in bulk
	authed := a.authed()
	var bulk int
	var bulkTypes []Type
	for _, t := range a.typesIn(locRespBody) {
		if !personal[t] && t != TCustom {
			continue
		}
		bulk += a.counts[locRespBody][t]
		bulkTypes = append(bulkTypes, t)
		if !authed && personal[t] {
			out = append(out, finding{class: "sensitive_data", severity: typeSeverity(t), rule: unauthRule[t], ev: one(locRespBody, t), count: a.counts[locRespBody][t], confidence: conf})
		}
	}
	if bulk >= a.cfg.BulkThreshold {
		sev := "medium"
		var ev evRefs
		for _, t := range bulkTypes {
			sev = maxSeverity(sev, typeSeverity(t))
			ev.add(locRespBody, t)
		}
		out = append(out, finding{class: "sensitive_data", severity: sev, rule: "bulk_exposure", ev: ev, count: bulk, confidence: conf})
	}

	// secrets and keys in responses
	for _, loc := range []int{locRespBody, locRespHeader} {
		if a.counts[loc][TSecret] > 0 {
			sev := "high"
			switch a.ex[loc][TSecret].rule {
			case "private_key", "aws_access_key", "stripe_secret_key":
				sev = "critical"
			}
			out = append(out, finding{class: "info_leak", severity: sev, rule: a.ex[loc][TSecret].rule, ev: one(loc, TSecret), count: a.counts[loc][TSecret], confidence: conf})
		}
	}

	// unsigned tokens
	if a.weakJWT > 0 {
		for loc := 0; loc < numLocs; loc++ {
			if e := a.ex[loc][TJWT]; e.set && e.weak {
				sev := "high"
				if loc >= locRespHeader {
					sev = "medium"
				}
				out = append(out, finding{class: "jwt_weakness", severity: sev, rule: "jwt_alg_none_or_unsigned", ev: one(loc, TJWT), count: 1, confidence: 0.95})
			}
		}
	}
	if len(out) == 0 {
		return
	}
	if req.Host == "" || req.Host != a.hostRaw { // hosts repeat: the last one is remembered
		a.hostRaw, a.host = req.Host, boundedWord(hostOf(tx))
	}
	ep := event.Endpoint{Host: a.host, Method: boundedWord(req.Method)} // Path: by report, when needed
	at := req.Start
	if r := tx.Response; r != nil && r.End.After(at) {
		at = r.End
	}
	for i := range out {
		if out[i].posture {
			a.posture1(&out[i], tx, req.Start, at, emit)
		} else {
			a.report(&out[i], &ep, tx, fold, req.Start, at, emit)
		}
	}
}

// credentialKind names what kind of credential was seen where, and how
// bad it is in clear text: a Basic password, a password or secret never
// expires; tokens, API keys and sessions do or can be revoked.
func credentialKind(loc int, t Type, rule string) (string, string) {
	switch {
	case loc == locQuery:
		return "query_" + event.SensitiveTypes[t], "high" // in the URL: logged by every proxy on the way
	case t == TCredentials && loc == locCookie:
		return "session_cookie", "medium"
	case t == TCredentials && rule == "authorization_basic":
		return rule, "high"
	case t == TCredentials:
		return rule, "medium" // authorization_bearer, authorization_digest, authorization_other, api_key_header
	}
	return locNames[loc] + "_" + event.SensitiveTypes[t], "high" // body_password, header_secret...
}

// behindTLS says whether the request was mirrored after TLS termination:
// it says so (X-Forwarded-Proto: https, Forwarded: proto=https,
// X-Forwarded-Ssl: on, Front-End-Https: on), or its server or host is
// configured as such.
func (a *Analyzer) behindTLS(tx *reassembly.Transaction) bool {
	if a.tlsTerminated(tx.Flow.Server.Addr()) {
		return true
	}
	req := tx.Request
	if len(a.tlsHosts) > 0 {
		h := strings.ToLower(req.Host)
		if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
			h = h[:i]
		}
		for _, t := range a.tlsHosts {
			if h == t || strings.HasPrefix(t, ".") && strings.HasSuffix(h, t) {
				return true
			}
		}
	}
	for i := range req.Headers {
		hd := &req.Headers[i]
		switch id := hd.Known(); {
		case id == idXForwardedProto:
			p, _, _ := strings.Cut(hd.Value, ",") // the client's hop is the first
			if strings.EqualFold(strings.TrimSpace(p), "https") {
				return true
			}
		case id == http1.IDForwarded:
			el, _, _ := strings.Cut(hd.Value, ",")
			for _, kv := range strings.Split(el, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
				if strings.EqualFold(k, "proto") && strings.EqualFold(strings.Trim(v, `"`), "https") {
					return true
				}
			}
		case id == http1.IDOther:
			if (strings.EqualFold(hd.Name, "X-Forwarded-Ssl") || strings.EqualFold(hd.Name, "Front-End-Https")) && strings.EqualFold(strings.TrimSpace(hd.Value), "on") {
				return true
			}
		}
	}
	return false
}

// idXForwardedProto is X-Forwarded-Proto's parse-time ID.
var idXForwardedProto = http1.LookupHeader("x-forwarded-proto")

// posture1 counts one request with credentials in clear text into its
// host's finding for the kind: raised once, updated at most every
// posture_interval with the count and the clients (bounded, busiest
// first).
func (a *Analyzer) posture1(f *finding, tx *reassembly.Transaction, start, at time.Time, emit analyzer.Emitter) {
	d := event.Detection{Class: f.class, Severity: f.severity, Confidence: f.confidence, Actor: event.ClientActor(tx), Endpoint: event.Endpoint{Host: a.host},
		FirstSeen: start, LastSeen: at, Count: f.count, Action: "log", Confirmed: tx.Flow.Confirmed}
	a.fold(a.posture, aggregate.Key{Class: f.class, Rule: f.rule, Host: a.host}, &d, f.ev, emit)
}

// fold folds a finding's detection d, without its evidence, under k:
// handed over when emit folds elsewhere (stage two, analyzer.LazyFolder),
// into agg otherwise. Either way the examples refs are masked and hashed
// only if the occurrence opens a detection: most repeat an open one.
func (a *Analyzer) fold(agg *aggregate.Aggregator, k aggregate.Key, d *event.Detection, refs evRefs, emit analyzer.Emitter) {
	// a.det: d is only valid during the call, and one of the caller's
	// would escape to the heap through the interface
	a.det = *d
	defer func() { a.det = event.Detection{} }()
	arg := a.encodeEvidence(refs)
	if lf, ok := emit.(analyzer.LazyFolder); ok {
		lf.FoldLazy(agg.Spec(), k, &a.det, a.lazy, arg)
		return
	}
	agg.FoldLazy(k, &a.det, a.lazy, arg, emit)
}

func hostOf(tx *reassembly.Transaction) string {
	if h := tx.Request.Host; h != "" {
		return strings.ToLower(h)
	}
	return tx.Flow.Server.String()
}

func (a *Analyzer) customOf(loc int) int {
	// the example of the location names the custom type
	name := a.ex[loc][TCustom].rule
	for i := range a.scan.Custom {
		if a.scan.Custom[i].Name == name {
			return i
		}
	}
	return 0
}

// maxCachedPath: longer paths (up to a request head's 64 KiB) are
// templated every time rather than held in a cache of detection paths,
// which then holds at most 4096 of this many bytes.
const maxCachedPath = 512

// folded is a request path with the places of its folded segments (the
// stage-two part's, see Responses.endpoint; 0 in stage one).
type folded struct {
	path string
	fold uint32
}

// template is the detection path of a request path: discovery's online
// template, with the places in fold made parameters too, and any
// sensitive segment masked, from a bounded cache.
func (a *Analyzer) template(p string, fold uint32) string {
	if t, ok := a.templates[folded{p, fold}]; ok {
		return t
	}
	t := redact.Path(discovery.TemplateFolding(p, fold))
	if len(p) > maxCachedPath {
		return t
	}
	if len(a.templates) >= 4096 {
		clear(a.templates)
	}
	a.templates[folded{strings.Clone(p), fold}] = t
	return t
}

// evidenceOf masks and hashes one example: raw is its value, name its
// field.
func evidenceOf(h *redact.Hasher, r evRef, typ Type, weak bool, n int, rule string, name, raw []byte) event.Evidence {
	return event.Evidence{Location: locNames[r.loc], Name: boundedWord(string(name)), Value: mask(typ, weak, raw, n),
		Rule: event.SensitiveTypes[r.t] + ":" + rule, Hash: h.Sum(string(raw))}
}

// encodeEvidence encodes the examples of refs for lazyEvidence, into a
// buffer reused by the next call.
func (a *Analyzer) encodeEvidence(refs evRefs) []byte {
	b := a.evArg[:0]
	for _, r := range refs.refs[:refs.n] {
		e := &a.ex[r.loc][r.t]
		if !e.set {
			continue
		}
		w := byte(0)
		if e.weak {
			w = 1
		}
		b = append(b, r.loc, byte(r.t), byte(e.typ), w)
		b = binary.AppendUvarint(b, uint64(e.n))
		for _, s := range [...][]byte{[]byte(e.rule), a.arena[e.v1:e.f1], a.arena[e.v0:e.v1]} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	a.evArg = b
	return b
}

// lazyEvidence is the analyzer.Evidencer of posture findings: it decodes
// what encodeEvidence wrote. It only reads the hasher, which does not
// change, so stage two may call it.
type lazyEvidence struct{ h *redact.Hasher }

// Evidence implements analyzer.Evidencer.
func (l lazyEvidence) Evidence(b []byte) []event.Evidence {
	var out []event.Evidence
	for len(b) >= 4 {
		r, typ, weak := evRef{loc: b[0], t: Type(b[1])}, Type(b[2]), b[3] == 1
		b = b[4:]
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return out
		}
		b = b[k:]
		var parts [3][]byte
		for i := range parts {
			l, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < l {
				return out
			}
			parts[i], b = b[k:k+int(l)], b[k+int(l):]
		}
		out = append(out, evidenceOf(l.h, r, typ, weak, int(n), string(parts[0]), parts[1], parts[2]))
	}
	return out
}

func (a *Analyzer) tlsTerminated(addr netip.Addr) bool {
	for _, p := range a.tls {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// report emits a detection the first time its key is seen, and then
// aggregates repeats (package aggregate).
func (a *Analyzer) report(f *finding, ep *event.Endpoint, tx *reassembly.Transaction, fold uint32, start, at time.Time, emit analyzer.Emitter) {
	if ep.Path == "" {
		ep.Path = a.template(tx.Request.Path, fold) // templating costs: only for findings reported per endpoint
	}
	d := event.Detection{Class: f.class, Severity: f.severity, Confidence: f.confidence, Actor: event.ClientActor(tx), Endpoint: *ep,
		FirstSeen: start, LastSeen: at, Count: f.count, Action: "log"}
	a.fold(a.agg, aggregate.Key{Class: f.class, Rule: f.rule, Host: ep.Host, Method: ep.Method, Path: ep.Path}, &d, f.ev, emit)
}

// Flush re-emits aggregated detections whose interval has passed.
func (a *Analyzer) Flush(now time.Time, emit analyzer.Emitter) {
	a.agg.Flush(now, emit, false)
	a.posture.Flush(now, emit, false)
}

// Finish emits every detection with occurrences not yet reported.
func (a *Analyzer) Finish(now time.Time, emit analyzer.Emitter) {
	a.agg.Flush(now, emit, true)
	a.posture.Flush(now, emit, true)
}
