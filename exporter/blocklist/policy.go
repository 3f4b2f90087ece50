package blocklist

import (
	"hash/maphash"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/apitap/apitap/analyzer/event"
)

// Entry is one active blocklist entry.
type Entry struct {
	Type, Value string // ip, cidr, user, api_key, session, fingerprint
	// Action is what the policy decided: rate_limit, block or deceive
	// (Shown gives the would_ form in dry run).
	Action string
	DryRun bool
	// Confidence is high or medium (low confidence makes no entry).
	Confidence string
	// Signals counts the distinct signals (class and rule) behind it.
	Signals int
	// Offences counts the entries this actor had, this one included,
	// while it was remembered; the TTL grows with it.
	Offences   int
	Reason     string // the detection class (and rule)
	Detections []string
	Since      time.Time
	Expires    time.Time
	TTL        time.Duration
	emitted    time.Time // capture time of the last event
}

// Key is the entry's Kafka key: "<type>:<value>".
func (e *Entry) Key() string { return e.Type + ":" + e.Value }

// Shown is the action as events carry it: would_<action> in dry run.
func (e *Entry) Shown() string {
	if e.DryRun {
		return "would_" + e.Action
	}
	return e.Action
}

// Out receives blocklist events: line is the event (without newline), or
// nil for a Kafka tombstone that revokes the key.
type Out func(key string, line []byte, tombstone bool)

// maxSignals bounds the distinct signals remembered per actor.
const maxSignals = 8

// maxIdentity bounds user, API key, session and fingerprint values that
// can become entries.
const maxIdentity = 256

// track is what the policy remembers about one actor (an entry key):
// its recent signals and its offences.
type track struct {
	signals  [maxSignals]uint64
	at       [maxSignals]time.Time
	n        int
	offences int
	lastEnd  time.Time // when its last entry ended
	seen     time.Time
}

// Manager applies the policy; safe for concurrent use.
type Manager struct {
	cfg    Config
	sensor string
	out    Out
	guard  *Guard
	allowV map[string]bool
	shared *sharedAddrs
	seed   maphash.Seed

	withheld [numReasons]atomic.Uint64

	mu        sync.Mutex
	entries   map[string]*Entry
	tracks    map[string]*track
	swept     int64 // capture second of the last sweep of tracks
	untracked uint64
	second    int64 // capture second of the rate window
	newIn     int
}

// numReasons is len(WithheldReasons), as a constant for the counter array.
const numReasons = 19

var reasonIndex = func() map[string]int {
	if len(WithheldReasons) != numReasons {
		panic("blocklist: WithheldReasons and numReasons disagree")
	}
	m := map[string]int{}
	for i, r := range WithheldReasons {
		m[r] = i
	}
	return m
}()

// New returns a manager emitting through out.
func New(cfg Config, sensor string, out Out) *Manager {
	cfg = cfg.WithDefaults()
	m := &Manager{cfg: cfg, sensor: sensor, out: out, entries: map[string]*Entry{}, tracks: map[string]*track{}, allowV: map[string]bool{},
		guard: NewGuard(cfg), seed: maphash.MakeSeed(),
		shared: newSharedAddrs(cfg.Policy.SharedIdentities, cfg.Policy.SignalWindow, cfg.Policy.MaxTracked)}
	for _, a := range cfg.Allow {
		if isTypeValue(a) {
			m.allowV[a] = true
		}
	}
	return m
}

// Enabled says whether the policy acts.
func (m *Manager) Enabled() bool { return *m.cfg.Enabled }

// NeverBlock adds addresses or networks to the never-block set under a
// reason: ReasonSensor for the sensor's own addresses, ReasonTrustedProxy
// for the configured trusted proxies, ReasonGateway for gateways.
func (m *Manager) NeverBlock(reason string, ps ...netip.Prefix) { m.guard.Add(reason, ps...) }

// NoteServer tells the policy that server answered an HTTP request of
// client (a listening port answered): after ServerMinClients distinct
// clients it is never blocked. The pipeline calls it for transactions
// with a response; it reports whether server is learned, so a caller may
// remember that and skip further calls for it.
func (m *Manager) NoteServer(server, client netip.Addr) bool {
	return m.guard.NoteServer(server, client)
}

// NoteClient tells the policy that identity (a user or an API key whose
// credentials the server accepted) made a request from client at capture
// time at. An address from which policy.shared_identities distinct
// identities come within the signal window is shared: its entries name
// the identity instead, and anonymous detections from it block nothing.
func (m *Manager) NoteClient(client netip.Addr, identity string, at time.Time) {
	if identity != "" {
		m.shared.note(client, maphash.String(m.shared.seed, identity), at)
	}
}

// NoteClientID is NoteClient with the identity given by a 64-bit hash of
// it (not 0), which the caller computes without allocating: the sensor
// calls it for every accepted request that carries credentials.
func (m *Manager) NoteClientID(client netip.Addr, id uint64, at time.Time) {
	if id != 0 {
		m.shared.note(client, maphash.Comparable(m.shared.seed, id), at)
	}
}

func (m *Manager) withhold(reason string) { m.withheld[reasonIndex[reason]].Add(1) }

// Detection applies the policy to one detection.
func (m *Manager) Detection(d *event.Detection) {
	if !m.Enabled() {
		return
	}
	r := m.match(d)
	if r == nil || r.Action == "log" {
		return
	}
	// the address of an unanswered flow may be anyone's: spoofed
	// sources must never become entries
	if !d.Confirmed {
		m.withhold(ReasonUnconfirmed)
		return
	}
	now := d.LastSeen
	typ, val, why := m.actor(d, r, now)
	if why != "" {
		m.withhold(why)
		return
	}
	strong := d.Confidence >= m.cfg.Policy.HighConfidence || d.Succeeded == "likely"
	if !strong && d.Confidence < m.cfg.Policy.MediumConfidence {
		m.withhold(ReasonLowConfidence)
		return
	}
	key := typ + ":" + val
	rule := ""
	if len(d.Evidence) > 0 {
		rule = d.Evidence[0].Rule
	}
	sig := maphash.String(m.seed, d.Class+"\x00"+rule)

	m.mu.Lock()
	defer m.mu.Unlock()
	tr := m.track(key, now)
	signals := 1
	if tr != nil {
		signals = tr.signal(sig, now, m.cfg.Policy.SignalWindow)
	}
	level, action := "medium", r.Action
	if strong || signals >= m.cfg.Policy.MinSignals {
		level = "high"
	} else if actionRank(action) > actionRank("rate_limit") {
		action = "rate_limit" // medium confidence: at most a rate limit
	}
	e := m.entries[key]
	fresh := e == nil
	ttl := r.TTL
	if e == nil {
		if sec := now.Unix(); sec != m.second {
			m.second, m.newIn = sec, 0
		}
		if m.newIn >= m.cfg.MaxNewPerSecond {
			m.withhold(ReasonRateLimited)
			return
		}
		if len(m.entries) >= m.cfg.MaxEntries {
			m.withhold(ReasonFull)
			return
		}
		m.newIn++
		offences := 1
		if tr != nil {
			if !tr.lastEnd.IsZero() && now.Sub(tr.lastEnd) > m.cfg.Policy.MaxTTL {
				tr.offences = 0 // a clean record for as long as the ceiling: start over
			}
			tr.offences++
			offences = tr.offences
		}
		ttl = m.grow(r.TTL, offences)
		e = &Entry{Type: typ, Value: val, Since: now, Offences: offences, DryRun: m.cfg.DryRun}
		m.entries[key] = e
	} else {
		ttl = max(m.grow(r.TTL, e.Offences), e.TTL)
		if actionRank(action) < actionRank(e.Action) {
			action = e.Action // a weaker action does not downgrade an entry; it refreshes it
		}
	}
	changed := fresh || e.Action != action || (level == "high" && e.Confidence != "high")
	e.Action, e.TTL, e.Expires = action, ttl, now.Add(ttl)
	if e.Confidence != "high" {
		e.Confidence = level
	}
	e.Signals = max(e.Signals, signals)
	e.Reason = d.Class
	if rule != "" {
		e.Reason += ":" + rule
	}
	if len(e.Detections) < 16 && (len(e.Detections) == 0 || e.Detections[len(e.Detections)-1] != d.ID) {
		e.Detections = append(e.Detections, d.ID)
	}
	// refreshes are announced when the expiry moved by a tenth of the TTL:
	// an attacker's every request must not become an event
	if changed || now.Sub(e.emitted) >= e.TTL/10 {
		e.emitted = now
		m.out(key, m.encode(e, now, false), false)
	}
}

// grow is the TTL of an actor's offences-th entry: base times the factor
// for each earlier offence, at most policy.max_ttl (a base above the
// ceiling stays).
func (m *Manager) grow(base time.Duration, offences int) time.Duration {
	if offences <= 1 || m.cfg.Policy.TTLFactor <= 1 || base >= m.cfg.Policy.MaxTTL {
		return base
	}
	f := math.Pow(m.cfg.Policy.TTLFactor, float64(offences-1))
	if t := float64(base) * f; t < float64(m.cfg.Policy.MaxTTL) {
		return time.Duration(t).Round(time.Second)
	}
	return m.cfg.Policy.MaxTTL
}

// signal records signal h at now and returns the distinct signals within
// window.
func (t *track) signal(h uint64, now time.Time, window time.Duration) int {
	t.seen = now
	n, oldest := 0, -1
	found := false
	for i := 0; i < t.n; i++ {
		if t.signals[i] == h {
			t.at[i], found = now, true
		}
		if now.Sub(t.at[i]) <= window {
			n++
		}
		if oldest < 0 || t.at[i].Before(t.at[oldest]) {
			oldest = i
		}
	}
	if found {
		return n
	}
	switch {
	case t.n < maxSignals:
		t.signals[t.n], t.at[t.n] = h, now
		t.n++
	default: // replace the oldest
		if now.Sub(t.at[oldest]) <= window {
			n--
		}
		t.signals[oldest], t.at[oldest] = h, now
	}
	return n + 1
}

// track returns the actor's record, making one; nil when the table is
// full (the actor's signals are then not remembered: counted).
func (m *Manager) track(key string, now time.Time) *track {
	if t := m.tracks[key]; t != nil {
		return t
	}
	if len(m.tracks) >= m.cfg.Policy.MaxTracked {
		m.sweep(now)
		if len(m.tracks) >= m.cfg.Policy.MaxTracked {
			m.untracked++
			return nil
		}
	}
	t := &track{seen: now}
	m.tracks[key] = t
	return t
}

// sweep forgets actors without an entry that were quiet for longer than
// both the signal window and the TTL ceiling, at most once per capture
// second.
func (m *Manager) sweep(now time.Time) {
	if sec := now.Unix(); sec == m.swept {
		return
	} else {
		m.swept = sec
	}
	keep := max(m.cfg.Policy.SignalWindow, m.cfg.Policy.MaxTTL)
	for k, t := range m.tracks {
		if _, active := m.entries[k]; !active && now.Sub(t.seen) > keep && now.Sub(t.lastEnd) > keep {
			delete(m.tracks, k)
		}
	}
}

// actionRank orders actions so they compare.
func actionRank(a string) int {
	switch a {
	case "block":
		return 3
	case "deceive":
		return 2
	case "rate_limit":
		return 1
	}
	return 0
}

func (m *Manager) match(d *event.Detection) *Rule {
	for i := range m.cfg.Rules {
		r := &m.cfg.Rules[i]
		if rank(d.Severity) < rank(r.MinSeverity) || d.Count < r.MinCount {
			continue
		}
		if len(r.Classes) == 0 {
			return r
		}
		for _, c := range r.Classes {
			if c == d.Class {
				return r
			}
		}
	}
	// a rule pack may ask for an action itself (class cve, action block)
	if d.Action != "" && d.Action != "log" && actionRank(d.Action) > 0 {
		return &Rule{Action: d.Action, TTL: time.Hour}
	}
	return nil
}

// actor picks the identity to key the entry by, normalised, or says why
// there is none that may be blocked.
func (m *Manager) actor(d *event.Detection, r *Rule, now time.Time) (typ, val, withheld string) {
	withheld = ReasonInvalidActor
	for _, t := range m.cfg.ActorTypes {
		var v string
		switch t {
		case "ip":
			if d.Actor.IP == "" {
				continue
			}
			a, ok := NormalizeAddr(d.Actor.IP)
			if !ok {
				continue
			}
			if why := m.guard.AddrReason(a); why != "" {
				return "", "", why
			}
			if m.shared.shared(a, now) {
				// many identities come from it: block the one the
				// detection names, never the address
				if it, iv := identityOf(d); iv != "" {
					if m.allowV[it+":"+iv] {
						return "", "", ReasonAllow
					}
					return it, iv, ""
				}
				return "", "", ReasonShared
			}
			if r.CIDRPrefix > 0 {
				bits := r.CIDRPrefix
				if a.Is6() {
					bits = r.CIDRPrefix6
				}
				p, err := a.Prefix(min(bits, a.BitLen()))
				if err != nil {
					continue
				}
				if why := m.guard.PrefixReason(p); why != "" {
					return "", "", why
				}
				return "cidr", p.String(), ""
			}
			return "ip", a.String(), ""
		case "user":
			v = d.Actor.User
		case "api_key":
			v = d.Actor.APIKey
		case "session":
			v = d.Actor.Session
		case "fingerprint":
			v = d.Actor.Fingerprint
		}
		if v == "" || !ValidIdentity(v) {
			continue
		}
		if m.allowV[t+":"+v] {
			return "", "", ReasonAllow
		}
		return t, v, ""
	}
	return "", "", withheld
}

// identityOf is the detection's authenticated identity (user, API key,
// then session), if valid.
func identityOf(d *event.Detection) (string, string) {
	for _, c := range [...]struct{ t, v string }{{"user", d.Actor.User}, {"api_key", d.Actor.APIKey}, {"session", d.Actor.Session}} {
		if c.v != "" && ValidIdentity(c.v) {
			return c.t, c.v
		}
	}
	return "", ""
}

// ValidIdentity says whether a user, API key, session or fingerprint
// value may be an entry: 1 to 256 bytes of UTF-8 without control
// characters (C0, DEL, C1) or Unicode line and paragraph separators.
func ValidIdentity(v string) bool {
	if len(v) == 0 || len(v) > maxIdentity || !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

// Tick expires entries whose TTL passed by capture time now: each gets a
// revoked event and a tombstone.
func (m *Manager) Tick(now time.Time) {
	if now.IsZero() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []string
	for k, e := range m.entries {
		if !now.Before(e.Expires) {
			due = append(due, k)
		}
	}
	sort.Strings(due)
	for _, k := range due {
		e := m.entries[k]
		delete(m.entries, k)
		if t := m.tracks[k]; t != nil {
			t.lastEnd = now
		}
		m.out(k, m.encode(e, now, true), false)
		m.out(k, nil, true)
	}
}

// Dropped returns the entries not made: over the rate limit, or full.
func (m *Manager) Dropped() (limited, full uint64) {
	return m.withheld[reasonIndex[ReasonRateLimited]].Load(), m.withheld[reasonIndex[ReasonFull]].Load()
}

// Withheld counts the entries not made, by reason (WithheldReasons
// order; zero counts included).
func (m *Manager) Withheld() []event.Count {
	out := make([]event.Count, len(WithheldReasons))
	for i, r := range WithheldReasons {
		out[i] = event.Count{Name: r, N: m.withheld[i].Load()}
	}
	return out
}

// Tracking reports the actors remembered, those not remembered because
// the table was full, the learned servers, and the servers and shared
// address notes not kept because their tables were full.
func (m *Manager) Tracking() (tracked int, untracked uint64, servers int, serversNotLearned, sharedUntracked uint64) {
	m.mu.Lock()
	tracked, untracked = len(m.tracks), m.untracked
	m.mu.Unlock()
	servers, serversNotLearned = m.guard.Servers()
	return tracked, untracked, servers, serversNotLearned, m.shared.untracked()
}

// Active lists the active entries, by key.
func (m *Manager) Active() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Entry, 0, len(m.entries))
	for _, e := range m.entries {
		c := *e
		c.Detections = append([]string(nil), e.Detections...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// encode writes a blocklist event (docs/schema/blocklist.schema.json).
func (m *Manager) encode(e *Entry, now time.Time, revoked bool) []byte {
	var b []byte
	b = append(b, `{"schema":"`+event.SchemaVersion+`","type":"blocklist","time":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","sensor":`...)
	b = event.AppendString(b, m.sensor)
	b = AppendEntry(append(b, ','), e, revoked)
	return append(b, '}')
}

// AppendEntry appends an entry's fields (without braces): the body of
// blocklist events and of /api/blocklist entries.
func AppendEntry(b []byte, e *Entry, revoked bool) []byte {
	b = append(b, `"key":`...)
	b = event.AppendString(b, e.Key())
	b = append(b, `,"actor":{"type":`...)
	b = event.AppendString(b, e.Type)
	b = append(b, `,"value":`...)
	b = event.AppendString(b, e.Value)
	b = append(b, `},"action":`...)
	b = event.AppendString(b, e.Shown())
	b = append(b, `,"confidence":`...)
	b = event.AppendString(b, e.Confidence)
	b = append(b, `,"signals":`...)
	b = strconv.AppendInt(b, int64(e.Signals), 10)
	b = append(b, `,"offences":`...)
	b = strconv.AppendInt(b, int64(e.Offences), 10)
	b = append(b, `,"reason":`...)
	b = event.AppendString(b, e.Reason)
	b = append(b, `,"detection_ids":[`...)
	for i, id := range e.Detections {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendString(b, id)
	}
	b = append(b, `],"since":"`...)
	b = e.Since.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","ttl_seconds":`...)
	ttl := int64(e.TTL / time.Second)
	if revoked {
		ttl = 0
	}
	b = strconv.AppendInt(b, ttl, 10)
	b = append(b, `,"expires_at":"`...)
	b = e.Expires.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","revoked":`...)
	return strconv.AppendBool(b, revoked)
}
