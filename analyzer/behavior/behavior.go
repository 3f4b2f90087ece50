package behavior

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/attack"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/analyzer/vocab"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/tlshello"
)

// Name is the analyzer's name and configuration section.
const Name = "behavior"

// ClassNames name the bits of reassembly.Notes.Abuse (package vocab): one
// per class (the kinds of bola after cBOLA share cBOLA's bit, see
// abuseBit).
var ClassNames = vocab.AbuseClasses

func init() {
	for i, n := range classNames[:cBOLAOwner] {
		if ClassNames[i] != n {
			panic("behavior: classNames and vocab.AbuseClasses disagree at " + n)
		}
	}
	analyzer.Register(analyzer.Descriptor{
		Name:      Name,
		Stage:     analyzer.StageOrdered, // actors span flows and workers
		After:     []string{"sensitive", "attack"},
		Provides:  []string{"Notes.Abuse"},
		Default:   true,
		NewConfig: func() any { return NewConfig() },
		NewShared: func(cfg any, env analyzer.Env) (any, error) { return OpenTracker(cfg.(*Config), env.Sensor) },
		New: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			t, ok := env.Shared.(*Tracker)
			if !ok {
				return nil, errors.New("behavior: no shared tracker")
			}
			return t.NewWorker(), nil
		},
	})
}

// allowlist holds the actors never flagged.
type allowlist struct {
	nets  []netip.Prefix
	users map[string]bool
	uas   []string
}

func newAllowlist(entries []string) allowlist {
	a := allowlist{users: map[string]bool{}}
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e, "user:"):
			a.users[strings.ToLower(e[5:])] = true
		case strings.HasPrefix(e, "ua:"):
			a.uas = append(a.uas, strings.ToLower(e[3:]))
		default:
			if p, err := parsePrefix(e); err == nil {
				a.nets = append(a.nets, p)
			}
		}
	}
	return a
}

func validAllowEntry(e string) error {
	if strings.HasPrefix(e, "user:") || strings.HasPrefix(e, "ua:") {
		if len(e) <= strings.IndexByte(e, ':')+1 {
			return fmt.Errorf("allowlist: %q is empty after the prefix", e)
		}
		return nil
	}
	if _, err := parsePrefix(e); err != nil {
		return fmt.Errorf("allowlist: %q is neither an address, a CIDR, user:NAME nor ua:TEXT", e)
	}
	return nil
}

// match says whether the request's address is allowed (trusted: not
// followed at all) or its user or User-Agent is (claimed by the client, so
// only the detectors of one actor's volume and shape are off; logins are
// still counted, so a stuffing tool calling itself Googlebot is caught).
func (a *allowlist) match(id *identity) (trusted, claimed bool) {
	for _, p := range a.nets {
		if p.Contains(id.ip) {
			return true, false
		}
	}
	if len(a.users) > 0 && id.user != "" && a.users[strings.ToLower(id.user)] {
		return false, true
	}
	if len(a.uas) > 0 && id.ua != "" {
		ascii := true
		for i := 0; i < len(id.ua) && ascii; i++ {
			ascii = id.ua[i] < 0x80
		}
		low := id.ua
		if !ascii {
			low = strings.ToLower(id.ua) // rare: no allocation for ASCII agents
		}
		for _, u := range a.uas {
			if ascii && containsLowerASCII(low, u) || !ascii && strings.Contains(low, u) {
				return false, true
			}
		}
	}
	return false, false
}

// containsLowerASCII reports whether the ASCII string s contains sub (lower
// case) ignoring the case of s, as strings.Contains(strings.ToLower(s), sub)
// would, without building the lower-case copy.
func containsLowerASCII(s, sub string) bool {
	if sub == "" {
		return true
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// Worker is the per-worker half: identity resolution with its caches.
type Worker struct {
	t    *Tracker
	res  *resolver
	id   identity
	dets []event.Detection
	// primary is the key of the transaction's own actor; abuse the
	// classes detected on it by this transaction (Notes.Abuse).
	primary uint64
	abuse   uint16
	claimed bool // allowlisted by user or User-Agent: login detectors only
	paths   pathCache
}

// detect makes a detection on r (see Tracker.detect) and notes the
// classes detected on the transaction's own actor. Callers check
// r.emitted[c] first, so that the evidence of a detection already made in
// the window is not built on every request.
func (w *Worker) detect(s *shard, r *record, c class, winStart, now int64, sev string, conf float64, count int, ep event.Endpoint, ev []event.Evidence, out *[]event.Detection) {
	if w.claimed && c != cStuffing && c != cBrute && c != cTakeover && c != cEnum {
		return
	}
	if w.t.detect(s, r, c, winStart, now, sev, conf, count, ep, ev, out) && r.key == w.primary {
		w.abuse |= abuseBit(c)
	}
}

// NewWorker returns a worker feeding t.
func (t *Tracker) NewWorker() *Worker { return &Worker{t: t, res: newResolver(t.cfg)} }

// Name implements analyzer.Analyzer.
func (w *Worker) Name() string { return Name }

var scannerBit = attack.ClassBit("scanner")

// Analyze implements analyzer.Analyzer.
func (w *Worker) Analyze(tx *reassembly.Transaction, emit analyzer.Emitter) {
	req := tx.Request
	if req == nil {
		return
	}
	t := w.t
	cfg := t.cfg
	now := req.Start.UnixNano()
	if req.Start.IsZero() {
		return
	}
	id := &w.id
	w.res.resolve(tx, id)
	trusted, claimed := t.allow.match(id)
	if trusted {
		return
	}
	w.claimed = claimed
	status := 0
	if tx.Response != nil {
		status = tx.Response.Status
	}
	ok2xx := status >= 200 && status < 300
	tplHash, idSeg, priv := w.paths.info(req.Path)
	tplHash ^= keyOfLower(kUser, req.Host) ^ keyOf(kIP, req.Method)
	var tpl string
	endpoint := func() event.Endpoint {
		if tpl == "" {
			tpl = discovery.Template(req.Path)
		}
		return event.Endpoint{Host: bounded(strings.ToLower(req.Host)), Method: bounded(req.Method), Path: redact.Path(tpl)}
	}
	w.dets = w.dets[:0]

	// the principal: who the request says it is
	user := id.user
	if user == "" && id.session != "" {
		user = t.stitched(id.session)
	} else if user != "" && id.session != "" {
		t.stitch(id.session, user)
	}
	k, kv := kIP, ""
	switch {
	case user != "":
		k, kv = kUser, user
	case id.apiKey != "":
		k, kv = kKey, id.apiKey
	case id.session != "":
		k, kv = kSession, id.session
	}
	var key uint64
	if k == kIP {
		b := id.ip.As16()
		key = keyOf(kIP, string(b[:]))
	} else {
		key = keyOf(k, kv)
	}
	// the endpoint: its load (dos) and whether its objects are shared
	var idHash uint64
	if idSeg != "" && ok2xx {
		idHash = keyOf(kSession, idSeg)
	}
	lat := 0.0
	if tx.Response != nil && !tx.Response.Start.IsZero() && !req.End.IsZero() {
		lat = latency(tx.Response.Start, req.End)
	}
	ld := t.observeEndpoint(tplHash, idHash, key, now, status >= 500, lat)

	s, r := t.lock(key, k, now)
	w.primary, w.abuse = key, 0
	w.identify(r, id, user)
	r.requests++
	if ld.surge {
		what := fmt.Sprintf("%d requests this minute, usually %.0f; %d answered 5xx; latency %.3fs, usually %.3fs", ld.count, ld.usual, ld.n5xx, ld.lat, ld.usualLt)
		if r.emitted[cDos] != ld.minute*int64(time.Minute) {
			w.detect(s, r, cDos, ld.minute*int64(time.Minute), now, "high", 0.7, int(ld.count), endpoint(),
				[]event.Evidence{{Location: "path", Name: "endpoint_load", Value: what, Rule: fmt.Sprintf("dos_per_minute>=%d, %.0fx the usual", cfg.DosPerMinute, cfg.DosFactor)}}, &w.dets)
		}
	}

	// rate: requests per minute against the actors' usual rate
	if m := now / int64(time.Minute); m > r.minute { // a late transaction counts in the current minute
		if r.minCount > 0 {
			s.baseline = s.baseline*0.98 + 0.02*float64(r.minCount)
		}
		r.minute, r.minCount = m, 0
	}
	r.minCount++
	if r.minCount >= uint32(cfg.RatePerMinute) && float64(r.minCount) >= cfg.RateFactor*s.baseline {
		if r.emitted[cRate] != r.minute*int64(time.Minute) {
			w.detect(s, r, cRate, r.minute*int64(time.Minute), now, "medium", 0.8, int(r.minCount), endpoint(),
				[]event.Evidence{{Location: "path", Name: "requests_per_minute", Value: strconv.Itoa(int(r.minCount)), Rule: fmt.Sprintf("rate_per_minute>=%d, %.0fx the usual %.1f", cfg.RatePerMinute, cfg.RateFactor, s.baseline)}}, &w.dets)
		}
	}

	// bots: automation signals, machine-regular timing
	if id.tool || id.spoofed {
		if r.bot == nil {
			r.bot = &botState{}
		}
		b := r.bot
		if roll(&b.start, now, t.window) {
			*b = botState{start: now}
		}
		b.n++
		if id.spoofed {
			b.spoof++
		} else {
			b.tool++
		}
		if b.lastAt > 0 && now > b.lastAt {
			gap := float64(now-b.lastAt) / 1e9
			b.gaps++
			d := gap - b.mean
			b.mean += d / float64(b.gaps)
			b.m2 += d * (gap - b.mean)
		}
		b.lastAt = now
		if b.n >= uint32(cfg.BotRequests) {
			cv := func() float64 { // the gaps' coefficient of variation, for unauthenticated tools only
				if b.gaps > 1 && b.mean > 0 {
					return math.Sqrt(b.m2/float64(b.gaps-1)) / b.mean
				}
				return math.Inf(1)
			}
			switch {
			case b.spoof*10 >= b.n*8:
				if r.emitted[cBot] != b.start {
					w.detect(s, r, cBot, b.start, now, "medium", 0.8, int(b.n), endpoint(),
						[]event.Evidence{{Location: "header", Name: "user-agent", Value: "browser User-Agent without browser headers", Rule: "spoofed_browser"}}, &w.dets)
				}
			case b.tool*10 >= b.n*8 && k == kIP && cv() < 0.25:
				if r.emitted[cBot] != b.start {
					w.detect(s, r, cBot, b.start, now, "low", 0.7, int(b.n), endpoint(),
						[]event.Evidence{{Location: "header", Name: "user-agent", Value: uaFamily(id.ua), Rule: fmt.Sprintf("tool_client_regular_timing cv=%.2f", cv())}}, &w.dets)
				}
			}
		}
	}

	// object walks: broken object-level authorization by a principal, or
	// scraping of objects many principals read
	if idSeg != "" {
		if r.walk == nil {
			r.walk = &walkState{}
		}
		wk := r.walk
		if roll(&wk.start, now, t.window) || (wk.tpl != tplHash && wk.ids.len() < 3) {
			wk.ids.reset()
			*wk = walkState{start: wk.start, tpl: tplHash, ids: wk.ids}
		}
		if wk.tpl == tplHash {
			wk.seen++
			if ok2xx {
				wk.ok++
			}
			if wk.ids.add(keyOf(kSession, idSeg), max(4*cfg.IDWalk, cfg.ScrapeObjects)) {
				if v, err := strconv.ParseInt(idSeg, 10, 64); err == nil {
					if wk.numeric == 0 || v < wk.lo {
						wk.lo = v
					}
					if wk.numeric == 0 || v > wk.hi {
						wk.hi = v
					}
					wk.numeric++
				}
			}
			n := wk.ids.len()
			switch {
			case ld.objs == objShared && n >= cfg.ScrapeObjects && wk.ok*2 >= wk.seen:
				sev := "low"
				if id.tool || id.spoofed {
					sev = "medium"
				}
				if r.emitted[cScraping] != wk.start {
					w.detect(s, r, cScraping, wk.start, now, sev, 0.7, n, endpoint(),
						[]event.Evidence{{Location: "path", Name: "kind", Value: fmt.Sprintf("%d distinct objects of an endpoint many principals read, %d of %d answered 2xx", n, wk.ok, wk.seen), Rule: fmt.Sprintf("scrape_objects>=%d", cfg.ScrapeObjects)}}, &w.dets)
				}
			case k != kIP && ld.objs != objShared && n >= cfg.IDWalk && wk.ok*2 >= wk.seen && int(wk.numeric) == n && wk.hi-wk.lo < int64(3*n):
				// a dense run of numeric ids is a walk (scattered ids are
				// left to the owner fields of the answers)
				how := fmt.Sprintf("%d distinct ids within a range of %d", n, wk.hi-wk.lo+1)
				if r.emitted[cBOLA] != wk.start {
					w.detect(s, r, cBOLA, wk.start, now, "high", 0.85, n, endpoint(),
						[]event.Evidence{{Location: "path", Name: "kind", Value: "enumeration: " + how + fmt.Sprintf(", %d of %d answered 2xx", wk.ok, wk.seen), Rule: fmt.Sprintf("id_walk>=%d", cfg.IDWalk)}}, &w.dets)
				}
			}
		}
	}
	if k != kIP && idSeg != "" {
		if ok2xx && tx.Response != nil {
			var o []byte
			if ld.ep.wantsOwner() {
				o = ownerOf(tx.Response.Body.Data)
				ld.ep.sawOwner(o != nil)
			}
			if o != nil {
				if r.own == nil {
					r.own = &ownState{}
				}
				ow := r.own
				if roll(&ow.start, now, t.window) {
					ow.owners.reset()
				}
				ow.owners.add(keyOf(kUser, string(o)), max(64, cfg.BOLAObjects))
				if n := ow.owners.len(); n >= cfg.BOLAObjects {
					if r.emitted[cBOLAOwner] != ow.start {
						w.detect(s, r, cBOLAOwner, ow.start, now, "high", 0.9, n, endpoint(),
							[]event.Evidence{{Location: "response_body", Name: "owner", Value: fmt.Sprintf("objects of %d different owners read", n), Rule: fmt.Sprintf("bola_objects>=%d", cfg.BOLAObjects)}}, &w.dets)
					}
				}
			}
		}
	}

	// function-level authorization and mass assignment
	if k != kIP && ok2xx {
		if priv {
			if r.privCalls == 0 && r.userCalls >= 20 {
				if win := now - now%t.window; r.emitted[cBOLAFunc] != win {
					w.detect(s, r, cBOLAFunc, win, now, "medium", 0.6, 1, endpoint(),
						[]event.Evidence{{Location: "path", Name: "kind", Value: fmt.Sprintf("function: a privileged endpoint answered 2xx to a principal that made %d ordinary calls before", r.userCalls), Rule: "privileged_after_ordinary"}}, &w.dets)
				}
			}
			r.privCalls++
		} else if r.userCalls < 1<<31 {
			r.userCalls++
		}
		if req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH" {
			if key := massAssigned(req.Body.Data, tx.Response.Body.Data); key != "" {
				if win := now - now%t.window; r.emitted[cBOLAMass] != win {
					w.detect(s, r, cBOLAMass, win, now, "medium", 0.65, 1, endpoint(),
						[]event.Evidence{{Location: "body", Name: key, Value: "mass_assignment: a server-owned property written and accepted", Rule: "server_owned_property"}}, &w.dets)
				}
			}
		}
	}

	// exfiltration: sensitive records flowing to one actor
	if tx.Notes.SensitiveResponse != 0 && ok2xx {
		if r.exfil == nil {
			r.exfil = &exfilState{}
		}
		e := r.exfil
		if roll(&e.start, now, t.window) {
			*e = exfilState{start: now}
		}
		e.n++
		e.bytes += uint64(tx.Response.Body.WireBytes)
		e.types |= tx.Notes.SensitiveResponse
		if e.n >= uint32(cfg.ExfilResponses) {
			if r.emitted[cExfil] != e.start {
				w.detect(s, r, cExfil, e.start, now, "high", 0.8, int(e.n), endpoint(),
					[]event.Evidence{{Location: "response_body", Name: "sensitive_types", Value: sensitiveNames(e.types), Rule: fmt.Sprintf("exfil_responses>=%d (%d bytes)", cfg.ExfilResponses, e.bytes)}}, &w.dets)
			}
		}
	}

	// what the attack analyzer found moves the actor along the kill chain
	if a := tx.Notes.Attacks; a != 0 {
		switch {
		case tx.Notes.AttackSucceeded:
			t.raise(s, r, now, 10, stExploitation)
		case a&^scannerBit != 0:
			t.raise(s, r, now, 3, stProbing)
		default:
			t.raise(s, r, now, 1, stRecon)
		}
		if k != kIP {
			w.slow(s, r, id, req.Path, now, endpoint)
		}
	}
	if now-r.emitMax < t.window { // else no detection of the actor is in its window
		for c := range r.emitted {
			if e := r.emitted[c]; e != 0 && now-e < t.window {
				tx.Notes.Abuse |= abuseBit(class(c))
			}
		}
	}
	s.mu.Unlock()
	if tx.Notes.Attacks != 0 && k == kIP { // unauthenticated probes: followed by fingerprint across addresses
		fs, fr := t.lock(keyOf(kFP, strconv.FormatUint(id.fp, 16)), kFP, now)
		w.identify(fr, id, "")
		w.slow(fs, fr, id, req.Path, now, endpoint)
		fs.mu.Unlock()
	}

	// logins: the source (address and fingerprint) and the target
	if req.Method == "POST" {
		if tpl == "" && len(cfg.LoginPaths) > 0 {
			tpl = discovery.Template(req.Path)
		}
		if la, isLogin := w.res.parseLogin(tx, tpl); isLogin {
			w.login(id, &la, now, endpoint, k != kIP)
			if la.success && la.session != "" && la.user != "" {
				t.stitch(la.session, la.user)
			}
		} else if u := w.res.accountProbe(tx); u != "" {
			w.enumerate(id, u, tx.Response, now, endpoint)
		}
	} else if req.Method == "GET" {
		if u := w.res.accountProbe(tx); u != "" {
			w.enumerate(id, u, tx.Response, now, endpoint)
		}
	}
	// the actor's own detections mark the transaction (those made on its
	// address's fingerprint or on the account it tried do not: which
	// connection crosses their thresholds depends on the worker order)
	tx.Notes.Abuse |= w.abuse
	for i := range w.dets {
		emit.Detection(&w.dets[i])
	}
}

// identify records the identities of the request on its actor.
func (w *Worker) identify(r *record, id *identity, user string) {
	r.sawIP(id.ip)
	if r.lastFP != id.fp {
		r.lastFP = id.fp
		r.actor.Fingerprint = fpID(id.fp)
		r.fps.add(r.actor.Fingerprint, 4)
	}
	if user != "" && r.actor.User == "" {
		r.actor.User = exportUser(user)
		r.users.add(r.actor.User, 8)
	}
	if id.session != "" && r.lastSession != id.session {
		r.lastSession = strings.Clone(id.session)
		r.actor.Session = w.t.tokenID("s:", id.session)
		r.sess.add(r.actor.Session, 4)
	}
	if id.apiKey != "" && r.actor.APIKey == "" {
		r.actor.APIKey = w.t.tokenID("k:", id.apiKey)
	}
}

// login counts one login attempt at its source address, its source
// fingerprint and its target username.
func (w *Worker) login(id *identity, la *loginAttempt, now int64, endpoint func() event.Endpoint, principal bool) {
	t, cfg := w.t, w.t.cfg
	b := id.ip.As16()
	userHash := keyOf(kUser, la.user)
	ipHash := keyOf(kIP, string(b[:]))
	for _, src := range [...]struct {
		k   kind
		key uint64
	}{{kIP, ipHash}, {kFP, keyOf(kFP, strconv.FormatUint(id.fp, 16))}} {
		s, r := t.lock(src.key, src.k, now)
		w.identify(r, id, "")
		if src.k == kFP || principal {
			r.requests++ // the address's own record counted it otherwise
		}
		if r.login == nil {
			r.login = &loginState{}
		}
		l := r.login
		if roll(&l.start, now, t.window) {
			l.attempts, l.failures = 0, 0
			l.users.reset()
			l.ips.reset()
		}
		l.attempts++
		l.users.add(userHash, max(64, 2*cfg.StuffingUsers))
		l.ips.add(ipHash, 64)
		if la.success {
			if src.k == kIP && int(l.failRun) >= cfg.TakeoverFailures {
				d := event.Evidence{Location: "body", Name: "username", Value: exportUser(la.user), Rule: fmt.Sprintf("success after %d failed logins", l.failRun)}
				before := r.actor.User
				r.actor.User = exportUser(la.user)
				if r.emitted[cTakeover] != l.start {
					w.detect(s, r, cTakeover, l.start, now, "high", 0.75, int(l.failRun)+1, endpoint(), []event.Evidence{d}, &w.dets)
				}
				r.actor.User = before
			}
			l.failRun = 0
		} else {
			l.failures++
			l.failRun++
			if src.k == kIP {
				w.enumerateLocked(s, r, la.user, userHash, la.resp, now, endpoint)
			}
		}
		users := l.users.len()
		// one address: its own record says it; a fingerprint (shared by
		// every user of a common browser) needs several addresses and twice
		// the usernames
		need := cfg.StuffingUsers
		if src.k == kFP {
			need *= 2
		}
		enough := src.k == kIP || l.ips.len() >= 2
		if enough && users >= need && int(l.attempts) >= need && float64(l.failures) >= cfg.StuffingFailRatio*float64(l.attempts) {
			if r.emitted[cStuffing] != l.start {
				w.detect(s, r, cStuffing, l.start, now, "high", 0.9, int(l.attempts), endpoint(),
					[]event.Evidence{{Location: "body", Name: "username", Value: fmt.Sprintf("%d distinct usernames, %d of %d failed, from %d addresses", users, l.failures, l.attempts, l.ips.len()), Rule: fmt.Sprintf("stuffing_users>=%d", cfg.StuffingUsers)}}, &w.dets)
			}
		}
		if src.k == kIP && users <= 2 && int(l.failures) >= cfg.BruteForce {
			if r.emitted[cBrute] != l.start {
				w.detect(s, r, cBrute, l.start, now, "high", 0.85, int(l.failures), endpoint(),
					[]event.Evidence{{Location: "body", Name: "username", Value: fmt.Sprintf("%d failed logins for %d username(s)", l.failures, users), Rule: fmt.Sprintf("brute_force>=%d", cfg.BruteForce)}}, &w.dets)
			}
		}
		s.mu.Unlock()
	}
	if la.user == "" {
		return
	}
	// many addresses against one account: a distributed brute force
	s, r := t.lock(userHash, kUser, now)
	if r.actor.User == "" {
		r.actor.User = exportUser(la.user)
		r.users.add(r.actor.User, 8)
	}
	if r.login == nil {
		r.login = &loginState{}
	}
	l := r.login
	if roll(&l.tStart, now, t.window) {
		l.tFail = 0
		l.tIPs.reset()
	}
	if !la.success {
		l.tFail++
		l.tIPs.add(ipHash, 64)
		if int(l.tFail) >= 2*cfg.BruteForce && l.tIPs.len() >= 3 {
			if r.emitted[cBrute] != l.tStart {
				w.detect(s, r, cBrute, l.tStart, now, "medium", 0.75, int(l.tFail), endpoint(),
					[]event.Evidence{{Location: "body", Name: "username", Value: fmt.Sprintf("%d failed logins from %d addresses against this account", l.tFail, l.tIPs.len()), Rule: fmt.Sprintf("brute_force>=%d (distributed)", 2*cfg.BruteForce)}}, &w.dets)
			}
		}
	}
	s.mu.Unlock()
}

func bounded(s string) string {
	if len(s) > 256 {
		return s[:256]
	}
	return s
}

// stitch links a session to the user it belongs to; stitched looks it up.
func (t *Tracker) stitch(session, user string) {
	h := keyOf(kSession, session)
	s := &t.shards[h%numShards]
	s.mu.Lock()
	if s.sessions == nil {
		s.sessions = map[uint64]string{}
	}
	if s.sessions[h] != user {
		if len(s.sessions) >= s.max {
			clear(s.sessions)
		}
		s.sessions[h] = strings.Clone(user)
	}
	s.mu.Unlock()
}

func (t *Tracker) stitched(session string) string {
	h := keyOf(kSession, session)
	s := &t.shards[h%numShards]
	s.mu.Lock()
	u := s.sessions[h]
	s.mu.Unlock()
	return u
}

// Report writes an actor event for every actor whose score band or stage
// changed since the last report (implements analyzer.Reporter).
func (t *Tracker) Report(now time.Time, final bool, out analyzer.EventSink) {
	var due []*record
	at := now.UnixNano()
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, r := range s.dirty {
			r.dirty = false
			if !r.live {
				continue
			}
			band := int(t.decayed(r, at) / 10)
			if band != r.repScore || r.stage != r.repStage {
				r.repScore, r.repStage = band, r.stage
				due = append(due, r)
			}
		}
		s.dirty = s.dirty[:0]
		s.mu.Unlock()
	}
	sort.Slice(due, func(i, j int) bool { return due[i].key < due[j].key })
	for _, r := range due {
		s := &t.shards[r.key%numShards]
		s.mu.Lock()
		a := t.snapshot(r, at)
		s.mu.Unlock()
		out.Event("actor", a.Name(), encodeActor(&a, t.sensor, now))
	}
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

// slow counts a probe (a request the attack analyzer flagged) over the
// long window; the record's shard is locked.
func (w *Worker) slow(s *shard, r *record, id *identity, path string, now int64, endpoint func() event.Endpoint) {
	t, cfg := w.t, w.t.cfg
	if r.slow == nil {
		r.slow = &slowState{}
	}
	st := r.slow
	if roll(&st.start, now, int64(cfg.SlowWindow)) {
		st.probes = 0
		st.paths.reset()
		st.ips.reset()
	}
	st.probes++
	st.paths.add(keyOf(kSession, path), 64)
	b := id.ip.As16()
	st.ips.add(keyOf(kIP, string(b[:])), 64)
	// slow: spread over a normal window at least, from several addresses
	if int(st.probes) >= cfg.SlowProbes && st.ips.len() >= 3 && now-st.start >= t.window {
		if r.emitted[cSlow] != st.start {
			w.detect(s, r, cSlow, st.start, now, "medium", 0.75, int(st.probes), endpoint(),
				[]event.Evidence{{Location: "path", Name: "probes", Value: fmt.Sprintf("%d flagged requests to %d paths from %d addresses over %s", st.probes, st.paths.len(), st.ips.len(), time.Duration(now-st.start).Round(time.Second)), Rule: fmt.Sprintf("slow_probes>=%d in slow_window", cfg.SlowProbes)}}, &w.dets)
		}
	}
}

// loginResp carries a login attempt's answer to the enumeration check.
type loginResp struct {
	status int
	body   []byte
}

// respClass groups answers that look alike: the status and the first 256
// bytes of the body, lower case, without the username tried (answers echo
// it), runs of 8 or more hex digits and dashes (request ids, UUIDs) and
// digits (timestamps).
func respClass(status int, body []byte, user string) uint64 {
	h := uint64(14695981039346656037) ^ uint64(status)
	if len(body) > 256 {
		body = body[:256]
	}
	low := bytes.ToLower(body)
	if user != "" {
		u := strings.ToLower(user)
		low = bytes.ReplaceAll(low, []byte(u), nil)
		if local, _, ok := strings.Cut(u, "@"); ok && len(local) >= 3 {
			low = bytes.ReplaceAll(low, []byte(local), nil)
		}
	}
	hexish := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-' }
	for i := 0; i < len(low); {
		j := i
		for j < len(low) && j-i < 8 && hexish(low[j]) {
			j++
		}
		if j-i == 8 {
			for j < len(low) && hexish(low[j]) {
				j++
			}
			i = j
			continue
		}
		c := low[i]
		i++
		if c >= '0' && c <= '9' {
			continue
		}
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// enumerate counts one username probed at an account endpoint (password
// reset, availability check, sign-up) from the request's address.
func (w *Worker) enumerate(id *identity, user string, resp *http1.Response, now int64, endpoint func() event.Endpoint) {
	b := id.ip.As16()
	s, r := w.t.lock(keyOf(kIP, string(b[:])), kIP, now)
	lr := loginResp{}
	if resp != nil {
		lr = loginResp{resp.Status, resp.Body.Data}
	}
	w.enumerateLocked(s, r, user, keyOf(kUser, user), lr, now, endpoint)
	s.mu.Unlock()
}

// enumerateLocked: many usernames whose answers fall in different classes
// (known and unknown users answered differently) is user enumeration.
func (w *Worker) enumerateLocked(s *shard, r *record, name string, user uint64, resp loginResp, now int64, endpoint func() event.Endpoint) {
	t, cfg := w.t, w.t.cfg
	if r.enum == nil {
		r.enum = &enumState{}
	}
	e := r.enum
	if roll(&e.start, now, t.window) {
		e.users.reset()
		e.classes.reset()
	}
	e.users.add(user, max(64, cfg.StuffingUsers))
	e.classes.add(respClass(resp.status, resp.body, name), 8)
	if e.users.len() >= cfg.StuffingUsers && e.classes.len() >= 2 {
		if r.emitted[cEnum] != e.start {
			w.detect(s, r, cEnum, e.start, now, "medium", 0.7, e.users.len(), endpoint(),
				[]event.Evidence{{Location: "response_body", Name: "answers", Value: fmt.Sprintf("%d usernames probed, answered in %d different ways", e.users.len(), e.classes.len()), Rule: fmt.Sprintf("stuffing_users>=%d with differing answers", cfg.StuffingUsers)}}, &w.dets)
		}
	}
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

// massAssigned returns a server-owned property that a JSON write set and
// its answer echoed ("" when none).
func massAssigned(req, resp []byte) string {
	if len(req) == 0 || len(req) > 8192 || len(resp) == 0 {
		return ""
	}
	if b := bytes.TrimSpace(req); len(b) == 0 || b[0] != '{' {
		return ""
	}
	if len(resp) > 8192 {
		resp = resp[:8192]
	}
	for i, q := range serverOwnedKeys {
		if bytes.Contains(req, q) && bytes.Contains(resp, q) {
			return serverOwned[i]
		}
	}
	return ""
}

// TLSHello links a TLS client's JA4 fingerprint and the server names it
// asks for to its address's actor (implements analyzer.TLSObserver): the
// sensor cannot read HTTPS, but the same address may be seen in clear
// text (behind a TLS-terminating balancer, through trusted proxies).
func (w *Worker) TLSHello(flow *reassembly.Flow, at time.Time, h *tlshello.Hello) {
	id := &w.id
	*id = identity{ip: flow.Client.Addr().Unmap()}
	if trusted, _ := w.t.allow.match(id); trusted {
		return
	}
	b := id.ip.As16()
	s, r := w.t.lock(keyOf(kIP, string(b[:])), kIP, at.UnixNano())
	r.sawIP(id.ip)
	r.fps.add("ja4:"+h.JA4(), 4)
	if h.SNI != "" {
		r.snis.add(bounded(h.SNI), 4)
	}
	s.mu.Unlock()
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
