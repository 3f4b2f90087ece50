package behavior

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	mbits "math/bits"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/attack"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/observation"
	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/analyzer/vocab"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/tlshello"
)

// Analyzer is the analyzer instance: it builds each transaction's
// Observation and runs the detectors on it, in the sensor's ordered stage
// (one instance, one goroutine, every transaction in capture order).
type Analyzer struct {
	t     *Tracker
	res   *resolver
	id    identity
	obs   Observation
	rec   observation.Record // the record published (central.go)
	paths pathCache
	tpls  map[string]string // path -> template, bounded
	out   []event.Detection
	// per transaction: the key of its own actor, the classes detected on
	// it (Notes.Abuse), whether volume detectors are off (allowlisted by
	// user or User-Agent, a verified crawler), the endpoint of detections
	primary uint64
	abuse   uint16
	claimed bool
	ep      event.Endpoint
	epSet   bool
	epState *epState // the endpoint's state
	// the last crawler claim checked against its ranges
	crawlerIP  netip.Addr
	crawlerIdx int8
	crawlerOK  bool
}

// NewAnalyzer returns the analyzer feeding t.
func (t *Tracker) NewAnalyzer() *Analyzer {
	return &Analyzer{t: t, res: newResolver(t.cfg, t.crawlers), tpls: map[string]string{}}
}

// Name implements analyzer.Analyzer.
func (a *Analyzer) Name() string { return Name }

var scannerBit = attack.ClassBit("scanner")

// Analyze implements analyzer.Analyzer.
func (a *Analyzer) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	o := &a.obs
	if !a.observe(tx, o) {
		return
	}
	if a.published(o) {
		return // sensor.correlation central: apitap correlate detects
	}
	a.out, a.abuse, a.epSet = a.out[:0], 0, false
	a.t.mu.Lock()
	bits := a.process(o)
	a.t.mu.Unlock()
	tx.Notes.Abuse |= bits | a.abuse
	for i := range a.out {
		emit.Detection(&a.out[i])
	}
}

// Flush detects what waited for capture time to pass (implements
// analyzer.Flusher).
func (a *Analyzer) Flush(now time.Time, emit analyzer.Emitter) {
	if now.IsZero() {
		return
	}
	a.out = a.out[:0]
	a.t.mu.Lock()
	if len(a.t.logins) > 0 {
		a.flushLogins(now.UnixNano())
	}
	a.t.mu.Unlock()
	for i := range a.out {
		emit.Detection(&a.out[i])
	}
	a.out = a.out[:0]
}

// template is the path template of p (bounded cache).
func (a *Analyzer) template(p string) string {
	if t, ok := a.tpls[p]; ok {
		return t
	}
	t := discovery.Template(p)
	if len(a.tpls) >= 4096 {
		clear(a.tpls)
	}
	a.tpls[strings.Clone(p)] = t
	return t
}

// endpoint is the transaction's endpoint as detections name it.
func (a *Analyzer) endpoint() event.Endpoint {
	if !a.epSet {
		o := &a.obs
		a.ep = event.Endpoint{Host: bounded(strings.ToLower(o.Host)), Method: bounded(o.Method), Path: redact.Path(a.template(o.Path))}
		a.epSet = true
	}
	return a.ep
}

func bounded(s string) string {
	if len(s) > 256 {
		return s[:256]
	}
	return s
}

// process runs the detectors on one observation (t.mu held) and returns
// the classes detected on its actor in their current window.
func (a *Analyzer) process(o *Observation) uint16 {
	t, cfg := a.t, a.t.cfg
	now := o.At
	trusted, claimed := t.allow.match(o.Client, o.User, o.UA)
	if trusted {
		return 0
	}
	if o.Health && o.Attacks == 0 {
		t.health.Add(1) // health checks are never abuse
		return 0
	}
	verified := o.Crawler >= 0 && o.Checked
	a.claimed = claimed || verified

	// the principal: who the request says it is
	user := o.User
	if user == "" && o.Session != "" {
		user = t.stitched(o.Session)
	} else if user != "" && o.Session != "" {
		t.stitch(o.Session, user)
	}
	k, kv := kIP, ""
	switch {
	case user != "":
		k, kv = kUser, user
	case o.APIKey != "":
		k, kv = kKey, o.APIKey
	case o.Session != "":
		k, kv = kSession, o.Session
	}
	var key uint64
	if k == kIP {
		key = o.ClientKey
	} else {
		key = keyOf(k, kv)
	}
	ld := t.observeEndpoint(o, a.epState, key)
	r := t.touch(key, k, now)
	a.primary = key
	a.identify(r, o, user)
	r.requests++
	if k != kIP {
		a.classify(r, o, k)
		a.context(r, o)
	} else {
		t.sawPrint(o.Print, o.ClientKey, o.Attacks != 0)
	}
	shared := k == kIP && t.shared(o.ClientKey)
	// a surge: its heavy senders (at least ten requests, at least half an
	// even share), not whoever happened to call the endpoint then
	if ld.surge && !shared && ld.mine >= 10 && float64(ld.mine)*2*float64(ld.actors) >= float64(ld.count) && r.emitted[cDos] != ld.minute*int64(time.Minute) {
		what := fmt.Sprintf("%d requests this minute, usually %.0f; %d answered 5xx; latency %.3fs, usually %.3fs; %d of them from this actor since the surge began, %d actors",
			ld.count, ld.usual, ld.n5xx, ld.lat, ld.usualLt, ld.mine, ld.actors)
		a.detect(r, cDos, ld.minute*int64(time.Minute), now, "high", 0.7, int(ld.mine),
			[]event.Evidence{{Location: "path", Name: "endpoint_load", Value: what, Rule: fmt.Sprintf("dos_per_minute>=%d, %.0fx the usual", cfg.DosPerMinute, cfg.DosFactor)}})
	}
	a.rate(r, o, shared)
	if !verified {
		a.bot(r, o, k, shared)
	}
	if o.Object != 0 {
		a.walk(r, o, k, ld, shared)
	}
	if k != kIP && o.Owner != 0 {
		a.owners(r, o, k)
	}
	if k != kIP && o.ok2xx() {
		a.function(r, o)
	}
	if o.Sensitive != 0 && o.ok2xx() {
		a.exfil(r, o, k)
	}
	if o.Attacks != 0 {
		a.attacks(r, o, k)
	}
	if o.Login.Kind != lkNone {
		a.logins(r, o, k, shared, ld.ep)
	}
	if len(o.Logins) > 0 && o.Login.Kind == lkNone {
		a.graphQLLogins(r, o, k, shared, ld.ep)
	}
	var bits uint16
	if now-r.emitMax < t.window { // else no detection of the actor is in its window
		for m := r.emitSet; m != 0; m &= m - 1 {
			c := class(mbits.TrailingZeros16(m))
			if e := r.emitted[c]; now-e < t.window {
				bits |= abuseBit(c)
			}
		}
	}
	return bits
}

// detect makes a detection on r once per class and window; it reports
// whether one was made. Only the login detectors apply to actors the
// allowlist trusts by user or User-Agent and to verified crawlers.
func (a *Analyzer) detect(r *record, c class, winStart, now int64, sev string, conf float64, count int, ev []event.Evidence) bool {
	return a.detectAs(r, c, winStart, now, sev, conf, count, ev, "")
}

// detectAs is detect for a member of a campaign (its id, "h:...", is the
// detection's fingerprint).
func (a *Analyzer) detectAs(r *record, c class, winStart, now int64, sev string, conf float64, count int, ev []event.Evidence, campaign string) bool {
	t := a.t
	if a.claimed && c != cStuffing && c != cBrute && c != cTakeover && c != cEnum {
		return false
	}
	if !a.due(r, c, winStart) {
		return false // once per actor, class and window (windows of two detectors of a class overlap)
	}
	r.emitted[c] = winStart
	r.emitSet |= 1 << c
	r.emitMax = max(r.emitMax, winStart)
	r.dets[c]++
	t.raise(r, now, severityScore[sev], classStage[c])
	if r.key == a.primary {
		a.abuse |= abuseBit(c)
	}
	h := keyOf(kind(c), classNames[c])
	for _, x := range [...]uint64{r.key, uint64(winStart)} {
		h ^= x
		h *= 1099511628211
	}
	actor := r.exported()
	if r.kind != kIP && r.ipSeen && t.shared(addrKey(r.lastIP)) {
		// a NAT gateway's or proxy's address is not this actor's: never name
		// it (a blocklist keyed by address would block everyone behind it)
		actor.IP = ""
		ev = append(ev, event.Evidence{Location: "path", Name: "shared_address", Value: fmt.Sprintf("the actor's address is used by %d+ principals: not named", t.cfg.SharedPrincipals), Rule: "shared_address"})
	}
	if campaign != "" {
		actor.Fingerprint = campaign
	}
	if o := &a.obs; r.key == a.primary && o.Peer.IsValid() && actor.IP != "" && r.lastIP == o.Client {
		actor.Peer = o.Peer.String() // the proxy the client was resolved through
	}
	a.out = append(a.out, event.Detection{
		ID:    "bh-" + hex.EncodeToString([]byte{byte(h >> 56), byte(h >> 48), byte(h >> 40), byte(h >> 32), byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)}),
		Class: classNames[c], Severity: sev, Confidence: conf, Actor: actor, Endpoint: a.endpoint(), Evidence: ev,
		FirstSeen: time.Unix(0, winStart).UTC(), LastSeen: time.Unix(0, now).UTC(), Count: count, Action: "log",
	})
	return true
}

// due says whether r has no detection of class c in a window overlapping
// the one starting at winStart.
func (a *Analyzer) due(r *record, c class, winStart int64) bool {
	e := r.emitted[c]
	return e == 0 || winStart-e >= a.span(c) || e-winStart >= a.span(c)
}

// span is the window of a class's detectors.
func (a *Analyzer) span(c class) int64 {
	switch c {
	case cRate, cDos:
		return int64(time.Minute)
	case cScraping:
		return a.t.long
	case cSlow:
		return int64(a.t.cfg.SlowWindow)
	}
	return a.t.window
}

// identify records the identities of the request on its actor.
func (a *Analyzer) identify(r *record, o *Observation, user string) {
	t := a.t
	if r.sawIP(o.Client, 8) && r.kind != kIP && r.kind != kFP && !r.announced.has(o.ClientKey) {
		r.announced.add(o.ClientKey)
		t.sawPrincipal(o.ClientKey, r.key)
	}
	if r.lastFP != o.Print {
		r.lastFP = o.Print
		r.actor.Fingerprint = fpID(o.Print)
		r.fps.add(r.actor.Fingerprint, 4)
	}
	r.agent = o.Agent
	if o.Agent == agentTool || o.Agent == agentAutomation || o.Agent == agentNone || o.Spoofed || o.Agent == agentCrawler && !o.Checked {
		r.auto = true
	}
	if user != "" && r.actor.User == "" {
		r.actor.User = exportUser(user)
		r.users.add(r.actor.User, 8)
	}
	if o.Session != "" && r.lastSession != o.Session {
		r.lastSession = strings.Clone(o.Session)
		r.actor.Session = t.tokenID("s:", o.Session)
		r.sess.add(r.actor.Session, 4)
	}
	if o.APIKey != "" && r.actor.APIKey == "" {
		r.actor.APIKey = t.tokenID("k:", o.APIKey)
	}
}

// classify recognises service accounts: a client-credentials token says
// so; an API key or Basic user of a program (not a browser) becomes one
// after 50 requests with machine-regular timing between its bursts or
// from a small set of endpoints. A service account is then judged against
// its own history and its peers (other services).
func (a *Analyzer) classify(r *record, o *Observation, k kind) {
	if r.service || !(k == kKey || o.Service || k == kUser && o.Basic) || o.Agent == agentBrowser {
		return
	}
	if o.Service {
		r.service = true
		a.t.regroup(r)
		return
	}
	s := r.svc
	if s == nil {
		s = &svcState{}
		r.svc = s
	}
	s.n++
	s.endpoints.add(o.Endpoint)
	if s.lastAt == 0 || o.At-s.lastAt >= int64(time.Second) {
		if s.burstAt != 0 && o.At > s.burstAt {
			gap := float64(o.At-s.burstAt) / 1e9
			s.gaps++
			d := gap - s.mean
			s.mean += d / float64(s.gaps)
			s.m2 += d * (gap - s.mean)
		}
		s.burstAt = o.At
	}
	s.lastAt = o.At
	if s.n < 50 {
		return
	}
	regular := s.gaps >= 20 && s.mean > 0 && math.Sqrt(s.m2/float64(s.gaps-1))/s.mean < 0.3
	if regular || s.endpoints.estimate() <= 8 {
		r.service = true
		r.svc = nil
		a.t.regroup(r)
	}
}

// context follows the addresses and clients a principal uses, window by
// window.
func (a *Analyzer) context(r *record, o *Observation) {
	c := r.ctx
	if c == nil {
		c = &ctxState{}
		r.ctx = c
	}
	switch {
	case c.start == 0:
		c.start = o.At
	case o.At-c.start >= a.t.window || o.At < c.start:
		c.known |= c.cur
		c.knownP |= c.curP
		c.cur, c.curP = 0, 0
		if c.windows < math.MaxUint16 {
			c.windows++
		}
		c.start = o.At
	}
	c.cur.add(o.ClientKey)
	c.curP.add(o.Print)
}

// newContext says the principal, known from earlier windows, now comes
// from an address and a client software it never used before.
func newContext(r *record, o *Observation) bool {
	c := r.ctx
	return c != nil && c.windows > 0 && !c.known.has(o.ClientKey) && !c.knownP.has(o.Print)
}

// rate: requests per minute against the usual per-minute rate of the
// actor's peers (and its own, once known).
func (a *Analyzer) rate(r *record, o *Observation, shared bool) {
	t, cfg := a.t, a.t.cfg
	fresh := false
	if m := o.At / int64(time.Minute); m > r.minute { // a late transaction counts in the current minute
		if r.minCount > 0 {
			t.peers[r.grp].rate.end(r.minCount)
			if !r.rateFlag {
				r.usualRate.learn(float64(r.minCount))
			}
		}
		r.minute, r.minCount, r.rateFlag, r.rateNext, fresh = m, 0, false, 0, true
	}
	old := r.minCount
	r.minCount += uint32(max(o.Ops, 1)) // a GraphQL batch counts its operations
	t.peers[r.grp].rate.set(old, r.minCount, fresh)
	if r.minCount < uint32(cfg.RatePerMinute) || r.minCount < r.rateNext || shared || a.claimed || r.emitted[cRate] == r.minute*int64(time.Minute) {
		return
	}
	r.rateNext = r.minCount + r.minCount/8 // the baseline moves slowly: look again a little later
	rate := func(p *peerStats) *hist { return &p.rate }
	ref, ok := t.peerRef(rate, r.grp, 0.99, r.minCount)
	factor := cfg.RateFactor
	if !ok && r.grp == gService {
		// a service without service peers yet: against everyone, with a
		// wider margin (an integration may be busier than any person)
		if ref, ok = t.peerRef(rate, gUser, 0.99, 0); !ok {
			ref, ok = t.peerRef(rate, gAnon, 0.99, 0)
		}
		factor *= 4
	}
	if r.usualRate.n >= 10 {
		ref, ok = max(ref, float64(r.usualRate.mean)), true
	}
	if !ok || float64(r.minCount) < factor*max(ref, 1) {
		return
	}
	r.rateFlag = true
	a.detect(r, cRate, r.minute*int64(time.Minute), o.At, "medium", 0.8, int(r.minCount),
		[]event.Evidence{{Location: "path", Name: "requests_per_minute", Value: strconv.Itoa(int(r.minCount)),
			Rule: fmt.Sprintf("rate_per_minute>=%d, %.0fx the usual %.0f of its peers (%s)", cfg.RatePerMinute, cfg.RateFactor, ref, groupNames[r.grp])}})
}

// bot: automation that hides or lies, and unauthenticated tools at
// machine-regular intervals.
func (a *Analyzer) bot(r *record, o *Observation, k kind, shared bool) {
	if o.Agent == agentBrowser && !o.Spoofed {
		return
	}
	t, cfg := a.t, a.t.cfg
	b := r.bot
	if b == nil {
		b = &botState{}
		r.bot = b
	}
	if roll(&b.start, o.At, t.window) {
		*b = botState{start: o.At}
	}
	b.n++
	switch {
	case o.Spoofed:
		b.spoof++
	case o.Crawler >= 0 && !o.Checked:
		b.claims++
	case o.Agent == agentAutomation:
		b.auto++
	default:
		b.tool++
	}
	if b.lastAt > 0 && o.At > b.lastAt {
		gap := float64(o.At-b.lastAt) / 1e9
		b.gaps++
		d := gap - b.mean
		b.mean += d / float64(b.gaps)
		b.m2 += d * (gap - b.mean)
	}
	b.lastAt = o.At
	if r.emitted[cBot] == b.start {
		return
	}
	need := uint32(cfg.BotRequests)
	switch {
	case b.claims >= 5 && b.claims*10 >= b.n*8:
		name := t.crawlers[o.Crawler].name
		a.detect(r, cBot, b.start, o.At, "medium", 0.85, int(b.n),
			[]event.Evidence{{Location: "header", Name: "user-agent", Value: "claims to be " + name + " from an address outside its published ranges", Rule: "unverified_crawler"}})
	case b.n >= need && b.spoof*10 >= b.n*8:
		a.detect(r, cBot, b.start, o.At, "medium", 0.8, int(b.n),
			[]event.Evidence{{Location: "header", Name: "user-agent", Value: "browser User-Agent without browser headers", Rule: "spoofed_browser"}})
	case b.n >= need/2 && b.auto*10 >= b.n*8 && !shared:
		a.detect(r, cBot, b.start, o.At, "low", 0.7, int(b.n),
			[]event.Evidence{{Location: "header", Name: "user-agent", Value: uaFamily(o.UA), Rule: "automation_framework"}})
	case b.n >= need && b.tool*10 >= b.n*8 && k == kIP && !shared && b.gaps > 1 && b.mean > 0:
		if cv := math.Sqrt(b.m2/float64(b.gaps-1)) / b.mean; cv < 0.25 {
			a.detect(r, cBot, b.start, o.At, "low", 0.7, int(b.n),
				[]event.Evidence{{Location: "header", Name: "user-agent", Value: uaFamily(o.UA), Rule: fmt.Sprintf("tool_client_regular_timing cv=%.2f", cv)}})
		}
	}
}

// walk follows the objects an actor reads: a dense run of numeric ids of
// an endpoint whose objects are owned (object-level authorization), and
// many distinct objects of a catalog endpoint (scraping), alone or as one
// of a campaign of addresses.
func (a *Analyzer) walk(r *record, o *Observation, k kind, ld load, shared bool) {
	t, cfg := a.t, a.t.cfg
	wk := r.walk
	if wk == nil {
		wk = &walkState{}
		r.walk = wk
	}
	ok := o.ok2xx()
	judgedByHistory := k == kKey || r.service
	// the slot of this endpoint, else the one with fewer objects
	sw := &wk.short[0]
	switch {
	case wk.short[0].tpl == o.Endpoint:
	case wk.short[1].tpl == o.Endpoint:
		sw = &wk.short[1]
	case wk.short[1].ids.len() < wk.short[0].ids.len() || wk.short[1].ids.len() == wk.short[0].ids.len() && wk.short[1].start < wk.short[0].start:
		sw = &wk.short[1]
	}
	if rolled := roll(&sw.start, o.At, t.window); rolled || sw.tpl != o.Endpoint {
		if judgedByHistory && sw.ids.len() > 0 {
			wk.usual.learn(float64(sw.ids.len()))
		}
		sw.ids.reset()
		sw.start, sw.tpl, sw.lo, sw.hi, sw.numeric, sw.ok, sw.seen = o.At, o.Endpoint, 0, 0, 0, 0, 0
	}
	sw.seen++
	if ok {
		sw.ok++
	}
	if sw.ids.add(o.Object, 4*cfg.IDWalk) {
		if v, num := o.objectNum(); num {
			if sw.numeric == 0 || v < sw.lo {
				sw.lo = v
			}
			if sw.numeric == 0 || v > sw.hi {
				sw.hi = v
			}
			sw.numeric++
		}
	}
	n := sw.ids.len()
	// a dense run of numeric ids is a walk (scattered ids are left to the
	// owner fields of the answers)
	if k != kIP && ld.objs != objShared && !o.Priv && n >= cfg.IDWalk && sw.ok*2 >= sw.seen && int(sw.numeric) == n && sw.hi-sw.lo < int64(3*n) &&
		r.emitted[cBOLA] != sw.start {
		sev, conf, why := "high", 0.85, ""
		unusual := true
		if judgedByHistory { // an integration reads many objects by design: only more than it usually does
			unusual = wk.usual.n >= 3 && float64(n) >= 3*float64(wk.usual.mean)
			sev, conf, why = "medium", 0.6, fmt.Sprintf(", 3x its usual %.0f", wk.usual.mean)
		}
		if unusual {
			a.detect(r, cBOLA, sw.start, o.At, sev, conf, n,
				[]event.Evidence{{Location: "path", Name: "kind", Value: fmt.Sprintf("enumeration: %d distinct ids within a range of %d, %d of %d answered 2xx%s", n, sw.hi-sw.lo+1, sw.ok, sw.seen, why),
					Rule: fmt.Sprintf("id_walk>=%d", cfg.IDWalk)}})
		}
	}
	ep := ld.ep
	if ep == nil || a.claimed || shared || judgedByHistory {
		return
	}
	// (an endpoint forgotten by the table and seen again has a new state:
	// the window starts again on it)
	renewed := wk.ltpl == o.Endpoint && wk.lid != ep.id
	if rolled := roll(&wk.lstart, o.At, t.long); rolled || (wk.ltpl != o.Endpoint && wk.ld < 3) || renewed {
		if renewed {
			wk.lstart = o.At
		}
		if wk.ld > 0 {
			if old := t.endpointOf(wk.ltpl, wk.lid); old != nil {
				old.objs.end(wk.ld)
			}
		}
		wk.lobj.reset()
		wk.ld, wk.lreq, wk.lok, wk.ltpl, wk.lid, wk.camp = 0, 0, 0, o.Endpoint, ep.id, nil
	}
	if wk.ltpl != o.Endpoint {
		return
	}
	wk.lreq++
	if !ok {
		return
	}
	wk.lok++
	if !wk.lobj.add(o.Object) {
		return
	}
	old := wk.ld
	wk.ld = uint32(wk.lobj.estimate())
	ep.objs.set(old, wk.ld, old == 0)
	if ld.objs != objShared {
		return
	}
	d := int(wk.ld)
	ref, known := ep.objs.quantileOthers(0.95, 30, wk.ld)
	// a signed-in person with a browser reading much is a heavy user: only
	// automated or anonymous readers are scrapers
	if (r.auto || k != kUser) && d >= cfg.ScrapeObjects && wk.lok*2 >= wk.lreq && known && float64(d) >= cfg.ScrapeFactor*max(ref, 1) && r.emitted[cScraping] != wk.lstart {
		sev := "low"
		if r.auto {
			sev = "medium"
		}
		a.detect(r, cScraping, wk.lstart, o.At, sev, 0.7, d,
			[]event.Evidence{{Location: "path", Name: "kind", Value: fmt.Sprintf("%d distinct objects of an endpoint many principals read, %d of %d answered 2xx; its readers usually read up to %.0f", d, wk.lok, wk.lreq, ref),
				Rule: fmt.Sprintf("scrape_objects>=%d, %.0fx the usual", cfg.ScrapeObjects, cfg.ScrapeFactor)}})
	}
	if r.auto && (k == kIP || k == kSession) && d >= 10 && wk.lok*10 >= wk.lreq*7 {
		a.scrapeCampaign(ep, wk, r, o, ref, known)
	}
}

// owners: a principal reads objects of many different owners (owner
// fields of the answers), more than its peers do. Administrative
// endpoints are left out (reading many owners' records is what they are
// for; function-level checks cover who reaches them); API keys and
// service accounts act for many owners and are judged against their own
// history.
func (a *Analyzer) owners(r *record, o *Observation, k kind) {
	if o.Priv {
		return
	}
	t, cfg := a.t, a.t.cfg
	ow := r.own
	if ow == nil {
		ow = &ownState{}
		r.own = ow
	}
	byHistory := k == kKey || r.service
	if ow.start == 0 {
		ow.start = o.At
	} else if o.At-ow.start >= t.window || o.At < ow.start {
		if n := ow.owners.len(); n > 0 {
			t.peers[r.grp].owners.end(uint32(n))
			ow.usual.learn(float64(n))
		}
		ow.owners.reset()
		ow.start = o.At
	}
	if !ow.owners.add(o.Owner, max(64, cfg.BOLAObjects)) {
		return
	}
	n := ow.owners.len()
	t.peers[r.grp].owners.set(uint32(n-1), uint32(n), n == 1)
	if n < cfg.BOLAObjects || r.emitted[cBOLAOwner] == ow.start {
		return
	}
	sev, conf := "high", 0.9
	var why string
	if byHistory {
		if ow.usual.n < 3 || float64(n) < 3*float64(ow.usual.mean) {
			return
		}
		sev, conf, why = "medium", 0.6, fmt.Sprintf("; it usually reads %.0f", ow.usual.mean)
	} else {
		ref, ok := t.peers[r.grp].owners.quantileOthers(0.95, 20, uint32(n))
		if !ok {
			ref = 1 // the premise: a principal reads its own objects
		}
		if float64(n) < cfg.BOLAFactor*max(ref, 1) {
			return
		}
		why = fmt.Sprintf("; its peers read up to %.0f", ref)
	}
	a.detect(r, cBOLAOwner, ow.start, o.At, sev, conf, n,
		[]event.Evidence{{Location: "response_body", Name: "owner", Value: fmt.Sprintf("objects of %d different owners read%s", n, why), Rule: fmt.Sprintf("bola_objects>=%d", cfg.BOLAObjects)}})
}

// function: function-level authorization (an ordinary principal reaches
// an administrative function) and mass assignment.
func (a *Analyzer) function(r *record, o *Observation) {
	t := a.t
	if o.Priv {
		if r.privCalls == 0 && r.userCalls >= 20 {
			if win := o.At - o.At%t.window; r.emitted[cBOLAFunc] != win {
				a.detect(r, cBOLAFunc, win, o.At, "medium", 0.6, 1,
					[]event.Evidence{{Location: "path", Name: "kind", Value: fmt.Sprintf("function: a privileged endpoint answered 2xx to a principal that made %d ordinary calls before", r.userCalls), Rule: "privileged_after_ordinary"}})
			}
		}
		r.privCalls++
	} else if r.userCalls < 1<<31 {
		r.userCalls++
	}
	if o.MassAssigned != "" {
		if win := o.At - o.At%t.window; r.emitted[cBOLAMass] != win {
			a.detect(r, cBOLAMass, win, o.At, "medium", 0.65, 1,
				[]event.Evidence{{Location: "body", Name: o.MassAssigned, Value: "mass_assignment: a server-owned property written and accepted", Rule: "server_owned_property"}})
		}
	}
}

// exfil: answers with sensitive data to one actor, far more than its
// peers (and itself, once known) take; high when the principal comes from
// an address and client it never used before (a stolen credential).
func (a *Analyzer) exfil(r *record, o *Observation, k kind) {
	t, cfg := a.t, a.t.cfg
	e := r.exfil
	if e == nil {
		e = &exfilState{}
		r.exfil = e
	}
	switch {
	case e.start == 0:
		e.start = o.At
	case o.At-e.start >= t.window || o.At < e.start:
		if e.n > 0 {
			t.peers[r.grp].sens.end(e.n)
			if !e.flag {
				e.usual.learn(float64(e.n))
			}
		}
		e.start, e.n, e.bytes, e.types, e.flag = o.At, 0, 0, 0, false
	}
	old := e.n
	e.n++
	e.bytes += uint64(max(o.RespSize, 0))
	e.types |= o.Sensitive
	t.peers[r.grp].sens.set(old, e.n, old == 0)
	if e.n < uint32(cfg.ExfilResponses) || a.claimed || r.emitted[cExfil] == e.start {
		return
	}
	// against its peers (nine in ten of them take less) and, once known,
	// its own usual
	ref, ok := t.peerRef(func(p *peerStats) *hist { return &p.sens }, r.grp, 0.9, e.n)
	if !ok { // nothing learnt yet (a service is judged against services and its own history)
		if e.usual.n < 2 {
			return
		}
		ref = 0
	}
	fresh := k != kIP && newContext(r, o)
	peerDev := 0.0
	if ok {
		peerDev = float64(e.n) / max(ref, 1)
	}
	ownDev := 0.0
	if e.usual.n >= 2 {
		ownDev = float64(e.n) / max(float64(e.usual.mean), 1)
	}
	need := cfg.ExfilFactor
	if peerDev < need && !(ownDev >= need && (peerDev >= 2 || !ok)) {
		return
	}
	e.flag = true
	sev, conf, why := "medium", 0.6, ""
	if fresh {
		sev, conf, why = "high", 0.8, "; from an address and client this principal never used before"
	}
	usual := ""
	if e.usual.n >= 2 {
		usual = fmt.Sprintf(", itself usually %.0f", e.usual.mean)
	}
	a.detect(r, cExfil, e.start, o.At, sev, conf, int(e.n),
		[]event.Evidence{{Location: "response_body", Name: "sensitive_types", Value: sensitiveNames(e.types) + fmt.Sprintf(" in %d answers (%d bytes); nine in ten of its peers (%s) take up to %.0f%s%s", e.n, e.bytes, groupNames[r.grp], ref, usual, why),
			Rule: fmt.Sprintf("exfil_responses>=%d, %.0fx the usual", cfg.ExfilResponses, need)}})
}

// attacks: what the attack analyzer found moves the actor along the kill
// chain; probes are followed over the long window by principal or, for
// unauthenticated clients, by a fingerprint that is theirs (most of whose
// addresses probe).
func (a *Analyzer) attacks(r *record, o *Observation, k kind) {
	t := a.t
	switch {
	case o.AttackSucceeded:
		t.raise(r, o.At, 10, stExploitation)
	case o.Attacks&^scannerBit != 0:
		t.raise(r, o.At, 3, stProbing)
	default:
		t.raise(r, o.At, 1, stRecon)
	}
	if k != kIP {
		a.slow(r, o, 0.8, "")
		return
	}
	ps, _ := t.prints.Get(o.Print)
	if ps == nil {
		return
	}
	fr := t.touch(keyOf(kFP, strconv.FormatUint(o.Print, 16)), kFP, o.At)
	a.identify(fr, o, "")
	fr.requests++
	// the fingerprint is this client's when most of its addresses probe
	addrs, probing := ps.addrs.estimate(), ps.probing.estimate()
	if probing*2 < addrs {
		return
	}
	a.slow(fr, o, 0.7, fmt.Sprintf("; the fingerprint was seen from %d addresses, %d of them probing", addrs, probing))
}

// slow counts a probe over the long window.
func (a *Analyzer) slow(r *record, o *Observation, conf float64, why string) {
	t, cfg := a.t, a.t.cfg
	st := r.slow
	if st == nil {
		st = &slowState{}
		r.slow = st
	}
	if roll(&st.start, o.At, int64(cfg.SlowWindow)) {
		st.probes, st.classes = 0, 0
		st.paths.reset()
		st.ips.reset()
	}
	st.probes++
	st.classes |= o.Attacks
	st.paths.add(keyOf(kSession, o.Path), 64)
	st.ips.add(o.ClientKey, 64)
	// slow: spread over a normal window at least, from several addresses
	if int(st.probes) >= cfg.SlowProbes && st.ips.len() >= 3 && o.At-st.start >= t.window && r.emitted[cSlow] != st.start {
		a.detect(r, cSlow, st.start, o.At, "medium", conf, int(st.probes),
			[]event.Evidence{{Location: "path", Name: "probes", Value: fmt.Sprintf("%d flagged requests (%s) to %d paths from %d addresses over %s%s", st.probes, attackNames(st.classes), st.paths.len(),
				st.ips.len(), time.Duration(o.At-st.start).Round(time.Second), why), Rule: fmt.Sprintf("slow_probes>=%d in slow_window", cfg.SlowProbes)}})
	}
}

// sawPrint counts an unauthenticated request's address under its
// fingerprint.
func (t *Tracker) sawPrint(fp, addr uint64, probing bool) {
	ps, _ := t.prints.Get(fp)
	if ps == nil {
		ps = &printState{}
		t.prints.Put(fp, ps)
	}
	h := addr
	ps.addrs.add(h)
	if probing {
		ps.probing.add(h)
	}
}

func attackNames(bits uint32) string {
	var n []string
	for i, c := range vocab.AttackClasses {
		if bits&(1<<i) != 0 {
			n = append(n, c)
		}
	}
	return strings.Join(n, ",")
}

// sensitiveNames lists the types of a bit set.
func sensitiveNames(bits uint64) string {
	var names []string
	for i, n := range event.SensitiveTypes {
		if bits&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// observeEndpoint counts one request to an endpoint: its minute's load
// against the usual, and (for a 2xx read of an object by a principal)
// whether the endpoint's objects are read by several principals (walking
// them is scraping a catalog, not reading other users' objects).
func (t *Tracker) observeEndpoint(o *Observation, e *epState, principal uint64) (l load) {
	cfg := t.cfg
	if e == nil {
		return l
	}
	now := o.At
	if m := now / int64(time.Minute); m > e.minute { // a late transaction counts in the current minute
		// after a surge minute, who sends what is counted from the start
		// of the next one
		e.watch = e.dosAt == e.minute && m == e.minute+1
		clear(e.surgeBy)
		if !e.watch {
			e.surgeBy = nil
		}
		if e.count > 0 && e.minute != 0 {
			lat := e.latSum / float64(e.count)
			if e.minutes == 0 {
				e.usual, e.usualLat = float64(e.count), lat
			} else if e.dosAt != e.minute && float64(e.count) < cfg.DosFactor/2*e.usual { // a surge (or its start) does not teach what is usual
				e.usual = e.usual*0.9 + 0.1*float64(e.count)
				e.usualLat = e.usualLat*0.9 + 0.1*lat
			}
			e.minutes++
		}
		e.minute, e.count, e.n5xx, e.latSum = m, 0, 0, 0
	}
	e.count++
	if o.Status >= 500 {
		e.n5xx++
	}
	e.latSum += o.Latency
	l = load{count: e.count, usual: e.usual, n5xx: e.n5xx, lat: e.latSum / float64(e.count), usualLt: e.usualLat, minute: e.minute, ep: e}
	if e.dosAt != e.minute && e.minutes >= 3 && e.count >= uint32(cfg.DosPerMinute) && float64(e.count) >= cfg.DosFactor*e.usual &&
		(e.n5xx*5 >= e.count || (e.usualLat > 0 && l.lat >= 3*e.usualLat)) {
		e.dosAt = e.minute
	}
	if e.dosAt == e.minute || e.watch { // who sends the surge
		if e.surgeBy == nil {
			e.surgeBy = map[uint64]uint32{}
		}
		if _, ok := e.surgeBy[principal]; ok || len(e.surgeBy) < 4096 {
			e.surgeBy[principal]++
		}
		l.surge, l.mine, l.actors = e.dosAt == e.minute, e.surgeBy[principal], len(e.surgeBy)
	}
	if o.Object == 0 || !o.ok2xx() {
		if e.total >= 20 && e.shared*5 >= e.total {
			l.objs = objShared
		}
		return l
	}
	e.total++
	switch p, ok := e.first[o.Object]; {
	case !ok:
		if len(e.first) < maxEndpointIDs {
			e.first[o.Object] = principal
		}
	case p != principal:
		e.shared++
	}
	if e.total > 1<<30 {
		e.total, e.shared = e.total/2, e.shared/2
	}
	if e.total >= 20 && e.shared*5 >= e.total {
		l.objs = objShared
	}
	return l
}

// endpoint returns an endpoint's state, new when unknown.
func (t *Tracker) endpoint(ep uint64) *epState {
	e, _ := t.endpoints.Get(ep)
	if e == nil {
		t.epSerial++
		e = &epState{id: t.epSerial, first: map[uint64]uint64{}}
		t.endpoints.Put(ep, e)
	}
	return e
}

// endpointOf returns the state of endpoint ep if it is still the one
// with serial number id (nil if the table forgot it since), without
// moving it in the table.
func (t *Tracker) endpointOf(ep, id uint64) *epState {
	if e, _ := t.endpoints.Peek(ep); e != nil && e.id == id {
		return e
	}
	return nil
}

// verified says whether addr is in the published ranges of crawler i.
func (t *Tracker) verified(i int, addr netip.Addr) bool {
	for _, p := range t.crawlers[i].ranges {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Report writes an actor event for every actor whose score band or stage
// changed since the last report (implements analyzer.Reporter).
func (t *Tracker) Report(now time.Time, final bool, out analyzer.EventSink) {
	at := now.UnixNano()
	t.mu.Lock()
	var due []Actor
	var keys []uint64
	for _, r := range t.dirty {
		r.dirty = false
		if !r.live {
			continue
		}
		band := int(t.decayed(r, at) / 10)
		if band != r.repScore || r.stage != r.repStage {
			r.repScore, r.repStage = band, r.stage
			due = append(due, t.snapshot(r, at))
			keys = append(keys, r.key)
		}
	}
	t.dirty = t.dirty[:0]
	t.mu.Unlock()
	idx := make([]int, len(due))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return keys[idx[i]] < keys[idx[j]] })
	for _, i := range idx {
		out.Event("actor", due[i].Name(), encodeActor(&due[i], t.sensor, now))
	}
}

// TLSHello links a TLS client's JA4 fingerprint and the server names it
// asks for to its address's actor (implements analyzer.TLSObserver): the
// sensor cannot read HTTPS, but the same address may be seen in clear
// text (behind a TLS-terminating balancer, through trusted proxies).
func (a *Analyzer) TLSHello(flow *reassembly.Flow, at time.Time, h *tlshello.Hello) {
	ip := flow.Client.Addr().Unmap()
	if trusted, _ := a.t.allow.match(ip, "", ""); trusted {
		return
	}
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.touch(addrKey(ip), kIP, at.UnixNano())
	r.sawIP(ip, 8)
	r.fps.add("ja4:"+h.JA4(), 4)
	if h.SNI != "" {
		r.snis.add(bounded(h.SNI), 4)
	}
}

// abuseBit is the Notes.Abuse bit of a class: the kinds of bola share
// one, so that the catalog counts calls, not kinds.
func abuseBit(c class) uint16 {
	switch c {
	case cBOLAOwner, cBOLAFunc, cBOLAMass:
		c = cBOLA
	}
	return 1 << c
}

// serverOwned are properties a client should not set on itself.
var serverOwned = [...]string{"role", "roles", "is_admin", "isAdmin", "admin", "balance", "credit", "permissions", "owner_id", "ownerId",
	"account_type", "accountType", "is_verified", "verified", "plan", "tier", "user_type"}

// serverOwnedKeys are serverOwned as JSON keys ("role" with its quotes).
var serverOwnedKeys = func() (q [len(serverOwned)][]byte) {
	for i, k := range serverOwned {
		q[i] = []byte(`"` + k + `"`)
	}
	return q
}()

// serverOwnedSet returns the server-owned keys a JSON write set holds, as
// bits of serverOwnedKeys, found in one pass over its quotes (0 when req
// is empty, too long or not an object). The answer is read only when this
// is not 0, so that most writes cost no decoding of their answer.
func serverOwnedSet(req []byte) uint32 {
	if len(req) == 0 || len(req) > 8192 {
		return 0
	}
	if b := bytes.TrimSpace(req); len(b) == 0 || b[0] != '{' {
		return 0
	}
	var in uint32
	for i := 0; i < len(req); {
		j := bytes.IndexByte(req[i:], '"')
		if j < 0 {
			break
		}
		i += j + 1
		if i >= len(req) {
			break
		}
		for m := serverOwnedFirst[req[i]]; m != 0; m &= m - 1 {
			k := mbits.TrailingZeros32(m)
			if q := serverOwnedKeys[k]; bytes.HasPrefix(req[i-1:], q) {
				in |= 1 << k
			}
		}
	}
	return in
}

// echoedOwned returns the first key of the set in that the answer resp
// echoes (within its first 8 KiB).
func echoedOwned(in uint32, resp []byte) string {
	if len(resp) > 8192 {
		resp = resp[:8192]
	}
	for ; in != 0; in &= in - 1 {
		k := mbits.TrailingZeros32(in)
		if bytes.Contains(resp, serverOwnedKeys[k]) {
			return serverOwned[k]
		}
	}
	return ""
}

// serverOwnedFirst are the serverOwned keys by their first letter, as
// bits.
var serverOwnedFirst = func() (t [256]uint32) {
	for i, k := range serverOwned {
		t[k[0]] |= 1 << i
	}
	return
}()
