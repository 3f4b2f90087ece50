package behavior

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/generations"
	"github.com/apitap/apitap/analyzer/observation"
	"github.com/apitap/apitap/analyzer/redact"
)

// class numbers the detectors.
type class uint8

const (
	cStuffing class = iota
	cBrute
	cTakeover
	cBOLA
	cRate
	cBot
	cExfil
	cScraping
	cDos
	cSlow
	cEnum
	// the other kinds of bola, each with its own once-per-window slot
	cBOLAOwner
	cBOLAFunc
	cBOLAMass
	numClasses
)

var classNames = [numClasses]string{"credential_stuffing", "brute_force", "account_takeover", "bola", "rate_abuse", "bot", "exfiltration",
	"scraping", "dos", "low_and_slow", "user_enumeration", "bola", "bola", "bola"}

// kind is what an actor is keyed on.
type kind uint8

const (
	kIP kind = iota
	kUser
	kKey
	kSession
	kFP
	kCampaign
)

var kindNames = [...]string{"ip", "user", "api_key", "session", "fingerprint", "campaign"}

// Peer groups: the actor types whose baselines are learnt apart.
const (
	gAnon    = iota // an address without credentials
	gUser           // a signed-in person
	gKey            // an API key
	gSession        // a session cookie without a known user
	gService        // a service account: client-credentials tokens, API keys or Basic users of machine-regular integrations
	numGroups
)

var groupNames = [numGroups]string{"anonymous", "user", "api_key", "session", "service"}

// Stages of the kill chain, in order.
var Stages = []string{"", "recon", "probing", "exploitation", "abuse", "exfiltration"}

const (
	stRecon = 1 + iota
	stProbing
	stExploitation
	stAbuse
	stExfiltration
)

// set is a small exact set of hashes; past its capacity it only counts
// up to the capacity (enough for thresholds, bounded in memory).
type set struct{ h []uint64 }

func (s *set) add(x uint64, capacity int) bool {
	for _, y := range s.h {
		if y == x {
			return false
		}
	}
	if len(s.h) >= capacity {
		return false
	}
	s.h = append(s.h, x)
	return true
}

func (s *set) len() int { return len(s.h) }
func (s *set) reset()   { s.h = s.h[:0] }

// strs is a small list of distinct strings (linked identities).
type strs []string

func (l *strs) add(v string, capacity int) {
	if v == "" || len(*l) >= capacity { // full: nothing more to learn
		return
	}
	for _, x := range *l {
		if x == v {
			return
		}
	}
	*l = append(*l, v)
}

// record is one actor: a principal (user, API key, session), an address,
// a fingerprint (login sources, unauthenticated probes) or a campaign.
type record struct {
	key         uint64
	kind        kind
	grp         uint8        // peer group its open windows are counted in
	actor       event.Actor  // identities as exported (redacted), latest; IP is filled in by exported
	ips         []netip.Addr // linked identities: addresses (as text when exported),
	fps         strs         // HTTP prints h:..., TLS ja4:...,
	users, sess strs
	snis        strs // TLS server names asked for
	first, last int64
	requests    uint64
	lastIP      netip.Addr
	ipSeen      bool   // lastIP was set (it may be the zero Addr)
	announced   bits64 // addresses whose principals were told about this one (sawPrincipal)
	lastFP      uint64
	lastSession string
	agent       agent // the client software last seen
	auto        bool  // automation seen: a tool, automation framework, unverified crawler or spoofed browser
	service     bool  // recognised as a service account (judged against its own history)

	score    float64
	scoreAt  int64
	stage    uint8
	repScore int
	repStage uint8
	dirty    bool
	live     bool
	dets     [numClasses]uint32

	minute    int64 // rate: current minute and its count
	minCount  uint32
	rateFlag  bool   // the minute was detected (it does not teach the usual rate)
	rateNext  uint32 // the count at which the minute is compared with the baseline again
	usualRate ewma

	userCalls, privCalls uint32 // 2xx calls to ordinary and privileged endpoints

	svc   *svcState
	ctx   *ctxState
	login *loginState
	walk  *walkState
	own   *ownState
	bot   *botState
	exfil *exfilState
	slow  *slowState
	enum  *enumState

	emitted    [numClasses]int64 // window start of the last detection, per class
	emitSet    uint16            // classes with a detection (emitted not 0)
	emitMax    int64             // the latest of them
	prev, next *record
}

// sawIP links an address to the actor. Addresses are formatted only when
// exported: a user's requests come over many connections, so the latest
// address changes from one request to the next.
func (r *record) sawIP(a netip.Addr, capacity int) bool {
	if r.lastIP == a && r.ipSeen {
		return false
	}
	r.lastIP, r.ipSeen = a, true
	if len(r.ips) < capacity && !slices.Contains(r.ips, a) {
		r.ips = append(r.ips, a)
	}
	return true
}

// exported is the actor as it leaves the sensor, with its latest address.
func (r *record) exported() event.Actor {
	a := r.actor
	if r.ipSeen {
		a.IP = r.lastIP.String()
	}
	return a
}

// group is the peer group of the actor's windows.
func (r *record) group() uint8 {
	switch {
	case r.service:
		return gService
	case r.kind == kUser:
		return gUser
	case r.kind == kKey:
		return gKey
	case r.kind == kSession:
		return gSession
	}
	return gAnon
}

// svcState recognises a service account: a credential of a program (an
// API key, a Basic user, a client-credentials token) used with
// machine-regular timing or a small, stable set of endpoints.
type svcState struct {
	n         uint32
	burstAt   int64 // start of the current burst (requests within a second are one)
	lastAt    int64
	gaps      uint32
	mean, m2  float64 // of the gaps between bursts (Welford), seconds
	endpoints bits64
}

// ctxState remembers where a principal came from in its earlier windows,
// so that a window from a new address or client is seen (a stolen token).
type ctxState struct {
	start        int64
	windows      uint16
	known, cur   bits64 // addresses of earlier windows, of this one
	knownP, curP bits64 // HTTP prints
}

type loginState struct {
	start              int64
	attempts, failures uint32
	successes          uint32
	users, ips         set
	failRun            uint32 // consecutive failures (as a source)
	// as the target of attempts (a username)
	tStart int64
	tFail  uint32
	tIPs   set
}

type walkState struct {
	// short window: object-level authorization (a dense run of ids), on
	// the two endpoints of the actor's latest object reads
	short [2]idWalk
	usual ewma // distinct objects per short window (own history, for API keys and services)
	// long window: scraping of a catalog endpoint
	lstart int64
	// the endpoint of the long window: its key and the serial number of
	// its state (not the state itself: a state the endpoint table forgot
	// is not kept alive by the actors that read it once)
	ltpl uint64
	lid  uint64
	lobj lincount
	ld   uint32 // distinct objects (estimate)
	lreq uint32
	lok  uint32
	camp *campaign // the scraping campaign it belongs to
}

// idWalk is the objects of one endpoint read in a window.
type idWalk struct {
	start    int64
	tpl      uint64 // the endpoint walked
	ids      set
	lo, hi   int64 // numeric ids seen
	numeric  uint32
	ok, seen uint32
}

type ownState struct {
	start  int64
	owners set
	usual  ewma // owners per window (own history, for API keys and services)
}

type botState struct {
	start          int64
	n, tool, spoof uint32
	auto, claims   uint32 // automation frameworks, unverified crawler claims
	lastAt         int64
	gaps           uint32
	mean, m2       float64 // of the gaps (Welford), seconds
}

type slowState struct {
	start      int64
	probes     uint32
	classes    uint32 // attack classes seen
	paths, ips set
}

type enumState struct {
	start          int64
	users, classes set
}

type exfilState struct {
	start int64
	n     uint32
	bytes uint64
	types uint64
	flag  bool // the window was detected (it does not teach the usual)
	usual ewma
}

// epState learns what an endpoint's traffic looks like: whether its
// objects are shared (a catalog many principals read) or owned, its load
// per minute, and how many objects one actor reads in a window.
type epState struct {
	id            uint64            // serial number, unique per state made (Tracker.endpoint)
	first         map[uint64]uint64 // id -> first principal, bounded
	total, shared uint32
	// load: this minute's requests, 5xx answers and latency, and what is
	// usual (exponentially weighted over the minutes seen)
	minute          int64
	count, n5xx     uint32
	latSum          float64
	usual, usualLat float64
	minutes         uint32
	dosAt           int64             // minute of the last surge
	surgeBy         map[uint64]uint32 // requests per actor in a surge minute (since the surge was seen, or all of it after a surge minute)
	watch           bool              // the previous minute was a surge
	// owner fields: answers checked and answers that had one; once 64
	// answers had none the endpoint's answers are not searched any more
	ownerChecks, ownerHits uint32
	objs                   hist      // distinct objects per actor and long window (scraping baseline)
	camp                   *campaign // the open scraping campaign against it
	login                  *loginCampaign
}

// wantsOwner says whether the endpoint's answers may carry owner fields.
func (e *epState) wantsOwner() bool {
	return e == nil || e.ownerHits > 0 || e.ownerChecks < 64
}

// sawOwner counts one answer searched for an owner field.
func (e *epState) sawOwner(found bool) {
	if e == nil {
		return
	}
	e.ownerChecks++
	if found {
		e.ownerHits++
	}
}

// objects says what an endpoint's objects look like so far.
type objects uint8

const (
	objUnknown objects = iota
	objShared          // many principals read the same ids: a catalog
)

// maxEndpointIDs bounds the ids remembered per endpoint.
const maxEndpointIDs = 512

// maxEndpoints bounds the endpoints tracked (with maxEndpointIDs, at most
// about 2M remembered ids): those not seen for a while (a scanner's
// unique paths, the slugs of a blog) make room for new ones, whose
// baselines start again.
const maxEndpoints = 4096

// load is what observeEndpoint says about an endpoint's traffic.
type load struct {
	objs    objects
	surge   bool   // a dos: far above the usual rate, failing or slowing, this minute
	mine    uint32 // the actor's requests to the endpoint since the surge was seen
	actors  int    // actors that sent them
	count   uint32
	usual   float64
	n5xx    uint32
	lat     float64 // this minute's mean latency, seconds
	usualLt float64
	minute  int64
	ep      *epState // the endpoint's state (nil: none)
}

// addrState is what is known of an address beyond its own actor: the
// principals seen from it (many: a NAT gateway or a proxy).
type addrState struct {
	principals bits64
}

// printState counts the addresses an unauthenticated HTTP fingerprint is
// seen from, and those that sent flagged requests: a fingerprint most of
// whose addresses probe is one client rotating addresses; a browser's
// common fingerprint is not.
type printState struct {
	addrs, probing bits64
}

// Bounds of the side tables (in two generations).
const (
	maxSessions = 65536
	maxAddrs    = 65536
	maxPrints   = 16384
)

// peerStats are a group's baselines.
type peerStats struct {
	rate   hist // requests per minute
	sens   hist // 2xx answers with sensitive data per window
	owners hist // owners of the objects read per window
}

// Tracker is the behaviour analyzer's state: actors, endpoints and
// baselines. The analyzer runs in the sensor's ordered stage, on one
// goroutine; mu serialises it with the readers of actor snapshots (Top,
// Report, Len from the admin API and the report).
type Tracker struct {
	mu       sync.Mutex
	cfg      *Config
	window   int64
	long     int64
	actors   map[uint64]*record
	head     *record // most recently seen
	tail     *record
	max      int
	evicted  atomic.Uint64
	health   atomic.Uint64 // health-check requests set aside
	sensor   string
	allow    allowlist
	key      []byte // hash_key_file's key, for session and API key hashes
	crawlers []crawler
	// the bounded tables forget in two generations (a flood of new keys
	// forgets what it outlasts, not what is in use, and never locks the
	// table against new keys)
	sessions  generations.Map[uint64, string] // session -> user, for stitching
	endpoints generations.Map[uint64, *epState]
	epSerial  uint64                              // states made (epState.id)
	addrs     generations.Map[uint64, *addrState] // by address key
	prints    generations.Map[uint64, *printState]
	logins    []*loginCampaign // login campaigns of the current windows (pending members)
	peers     [numGroups]peerStats
	dirty     []*record
	// stats is the last published count of actors (read without mu).
	n atomic.Int64
	// publish receives each observation's record (sensor.observations,
	// central.go); remoteOnly turns the detectors off here (correlation:
	// central); central: the tracker of apitap correlate, whose records
	// carry pseudonyms already
	publish    func(*observation.Record)
	remoteOnly bool
	central    bool
}

// OpenTracker reads the hash key (when configured) and returns an empty
// tracker.
func OpenTracker(cfg *Config, sensor string) (*Tracker, error) {
	t := NewTracker(cfg, sensor)
	if cfg.HashKeyFile != "" {
		key, err := readKey(cfg.HashKeyFile)
		if err != nil {
			return nil, err
		}
		t.key = key
	}
	return t, nil
}

// NewTracker returns an empty tracker (without a hash key).
func NewTracker(cfg *Config, sensor string) *Tracker {
	crawlers := cfg.Crawlers
	if crawlers == nil {
		crawlers = DefaultCrawlers
	}
	return &Tracker{cfg: cfg, window: int64(cfg.Window), long: int64(cfg.ScrapeWindow), sensor: sensor, allow: newAllowlist(cfg.Allowlist),
		actors: map[uint64]*record{}, max: cfg.MaxActors, crawlers: newCrawlers(crawlers), sessions: generations.New[uint64, string](maxSessions),
		endpoints: generations.New[uint64, *epState](maxEndpoints), addrs: generations.New[uint64, *addrState](maxAddrs),
		prints: generations.New[uint64, *printState](maxPrints)}
}

// Evicted counts actors dropped from the full table.
func (t *Tracker) Evicted() uint64 { return t.evicted.Load() }

// HealthChecks counts the health-check requests set aside.
func (t *Tracker) HealthChecks() uint64 { return t.health.Load() }

// Len is the number of actors held.
func (t *Tracker) Len() int { return int(t.n.Load()) }

func keyOf(k kind, v string) uint64 {
	h := uint64(14695981039346656037) ^ uint64(k)
	h *= 1099511628211
	for i := 0; i < len(v); i++ {
		h ^= uint64(v[i])
		h *= 1099511628211
	}
	return h
}

// keyOfLower is keyOf(k, strings.ToLower(v)), without making the
// lower-case copy when v is ASCII.
func keyOfLower(k kind, v string) uint64 {
	h := uint64(14695981039346656037) ^ uint64(k)
	h *= 1099511628211
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x80 {
			return keyOf(k, strings.ToLower(v))
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// addrKey is the key of an address's actor: its 128 bits mixed into 64
// (multiply and xor-shift rounds, a few instructions for every request).
func addrKey(a netip.Addr) uint64 {
	b := a.As16()
	hi, lo := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
	h := (hi ^ 0x51af0c2d) * 0x9e3779b97f4a7c15
	h = (h ^ h>>29 ^ lo) * 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

// touch finds or makes the record for key (t.mu held), most recently
// seen first; the least recently seen is evicted when the table is full.
func (t *Tracker) touch(key uint64, k kind, now int64) *record {
	r := t.actors[key]
	if r == nil {
		if len(t.actors) >= t.max && t.tail != nil {
			old := t.tail
			t.unlink(old)
			delete(t.actors, old.key)
			t.forget(old)
			old.live = false
			t.evicted.Add(1)
		}
		r = &record{key: key, kind: k, first: now, live: true, repScore: -1}
		r.grp = r.group()
		t.actors[key] = r
		t.n.Store(int64(len(t.actors)))
	} else if t.head != r {
		t.unlink(r)
	} else {
		if now > r.last {
			r.last = now
		}
		return r
	}
	r.next, r.prev = t.head, nil
	if t.head != nil {
		t.head.prev = r
	}
	t.head = r
	if t.tail == nil {
		t.tail = r
	}
	if now > r.last {
		r.last = now
	}
	return r
}

func (t *Tracker) unlink(r *record) {
	if r.prev != nil {
		r.prev.next = r.next
	} else if t.head == r {
		t.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else if t.tail == r {
		t.tail = r.prev
	}
	r.prev, r.next = nil, nil
}

// forget takes an evicted actor's open windows out of the baselines.
func (t *Tracker) forget(r *record) {
	if r.minCount > 0 {
		t.peers[r.grp].rate.drop(r.minCount)
	}
	if r.exfil != nil && r.exfil.n > 0 {
		t.peers[r.grp].sens.drop(r.exfil.n)
	}
	if w := r.walk; w != nil && w.ld > 0 {
		if e := t.endpointOf(w.ltpl, w.lid); e != nil {
			e.objs.drop(w.ld)
		}
	}
	if o := r.own; o != nil && o.owners.len() > 0 {
		t.peers[r.grp].owners.drop(uint32(o.owners.len()))
	}
}

// regroup moves an actor's open windows to its (new) peer group.
func (t *Tracker) regroup(r *record) {
	g := r.group()
	if g == r.grp {
		return
	}
	if r.minCount > 0 {
		t.peers[r.grp].rate.drop(r.minCount)
		t.peers[g].rate.set(0, r.minCount, true)
	}
	if r.exfil != nil && r.exfil.n > 0 {
		t.peers[r.grp].sens.drop(r.exfil.n)
		t.peers[g].sens.set(0, r.exfil.n, true)
	}
	if o := r.own; o != nil && o.owners.len() > 0 {
		t.peers[r.grp].owners.drop(uint32(o.owners.len()))
		t.peers[g].owners.set(0, uint32(o.owners.len()), true)
	}
	r.grp = g
}

// peerRef is a high quantile of a measure over the actor's peer group
// (without the actor's own open window, self, when not 0), or, for people
// and anonymous clients, over every group when theirs has too few samples
// yet (services are only compared with services); ok is false when
// nothing has been learnt.
func (t *Tracker) peerRef(pick func(*peerStats) *hist, g uint8, q float64, self uint32) (float64, bool) {
	const minSamples = 30
	if v, ok := pick(&t.peers[g]).quantileOthers(q, minSamples, self); ok || g == gService {
		return v, ok
	}
	var all hist
	for i := range t.peers {
		h := pick(&t.peers[i])
		for b := range all.live {
			all.live[b] += h.live[b]
			all.done[b] += h.done[b]
		}
		all.n += h.n
	}
	return all.quantileOthers(q, minSamples, self)
}

// stitch links a session to the user it belongs to; stitched looks it up.
func (t *Tracker) stitch(session, user string) {
	h := keyOf(kSession, session)
	if u, _ := t.sessions.Get(h); u != user {
		t.sessions.Put(h, strings.Clone(user))
	}
}

func (t *Tracker) stitched(session string) string {
	u, _ := t.sessions.Get(keyOf(kSession, session))
	return u
}

// sawPrincipal notes that principal (a user, key or session) used the
// address of key a.
func (t *Tracker) sawPrincipal(a, principal uint64) {
	s, _ := t.addrs.Get(a)
	if s == nil {
		s = &addrState{}
		t.addrs.Put(a, s)
	}
	s.principals.add(principal)
}

// shared says whether an address (by its key) is used by many
// principals (a NAT gateway, a proxy) and is not itself failing most of
// its logins: such an address is never treated as one actor.
func (t *Tracker) shared(a uint64) bool {
	s, _ := t.addrs.Get(a)
	return t.sharedBy(a, s)
}

// sharedBy is shared with the address's state s looked up (the readers
// of actor snapshots Peek: a listing changes nothing the detectors know).
func (t *Tracker) sharedBy(a uint64, s *addrState) bool {
	if s == nil || s.principals.estimate() < t.cfg.SharedPrincipals {
		return false
	}
	if r := t.actors[a]; r != nil && r.login != nil {
		l := r.login
		if l.attempts >= 10 && l.failures*2 > l.attempts {
			return false
		}
	}
	return true
}

// latency is resp.Sub(req).Seconds() when resp is after req, 0 when it
// is not. Times of the years 1834 to 2106 without a monotonic clock
// reading (capture times) are subtracted as seconds and nanoseconds: no
// overflow to guard against, no monotonic readings to compare, and the
// code of Sub and After stays out of the instruction cache.
func latency(resp, req time.Time) float64 {
	const lim = 1 << 32 // seconds from 1970: (2*lim)*1e9 fits in an int64
	rs, qs := resp.Unix(), req.Unix()
	if rs <= -lim || rs >= lim || qs <= -lim || qs >= lim || resp != resp.Round(0) || req != req.Round(0) {
		if resp.After(req) {
			return resp.Sub(req).Seconds()
		}
		return 0
	}
	if d := time.Duration((rs-qs)*int64(time.Second) + int64(resp.Nanosecond()-req.Nanosecond())); d > 0 {
		return d.Seconds()
	}
	return 0
}

// roll restarts a window that is over (or never started).
func roll(start *int64, now, span int64) bool {
	if *start == 0 || now-*start >= span || now < *start {
		*start = now
		return true
	}
	return false
}

// decayed is the score now.
func (t *Tracker) decayed(r *record, now int64) float64 {
	if r.score == 0 || now <= r.scoreAt {
		return r.score
	}
	return r.score * math.Exp2(-float64(now-r.scoreAt)/float64(t.cfg.ScoreHalfLife))
}

// raise adds to the actor's threat score and moves its stage forward.
func (t *Tracker) raise(r *record, now int64, by float64, stage uint8) {
	r.score = min(t.decayed(r, now)+by, 100)
	r.scoreAt = now
	if stage > r.stage {
		r.stage = stage
	}
	if !r.dirty {
		r.dirty = true
		t.dirty = append(t.dirty, r)
	}
}

var severityScore = map[string]float64{"info": 1, "low": 5, "medium": 15, "high": 30, "critical": 50}

// classStage is the kill-chain stage a detection puts its actor in.
var classStage = [numClasses]uint8{cStuffing: stAbuse, cBrute: stAbuse, cTakeover: stExploitation, cBOLA: stExploitation, cRate: stAbuse, cBot: stProbing, cExfil: stExfiltration,
	cScraping: stAbuse, cDos: stAbuse, cSlow: stProbing, cEnum: stRecon, cBOLAOwner: stExploitation, cBOLAFunc: stExploitation, cBOLAMass: stExploitation}

// detection is one detection of the transaction, before it is emitted.
type detection struct {
	r        *record
	c        class
	winStart int64
	sev      string
	conf     float64
	count    int
	ev       []event.Evidence
	campaign string // the campaign id the actor is a member of
}

// exportUser is a username as it may leave the sensor: e-mail addresses
// masked, anything that looks personal or secret replaced by its length.
func exportUser(u string) string {
	switch {
	case u == "":
		return ""
	case len(u) > 64:
		return redact.Mask(u)
	case isEmail(u):
		return redact.Email(u)
	case plainName(u) && !redact.SensitiveValue(u):
		return strings.Clone(u) // u may point into a request body
	}
	return redact.Mask(u) // a password typed as a username, a botched stuffing list line
}

// isEmail is a strict local@domain shape.
func isEmail(u string) bool {
	local, domain, ok := strings.Cut(u, "@")
	if !ok || local == "" || len(local) > 64 || domain == "" || !strings.Contains(domain, ".") {
		return false
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._%+-", c) >= 0) {
			return false
		}
	}
	for i := 0; i < len(domain); i++ {
		if c := domain[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// plainName is a user name of identifier characters (JWT subjects such
// as "auth0|5f7c" or "tenant:42" included).
func plainName(u string) bool {
	for i := 0; i < len(u); i++ {
		if c := u[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-|:@", c) >= 0) {
			return false
		}
	}
	return true
}

// tokenID names a session or API key by a hash (the raw value never
// leaves the sensor).
func (t *Tracker) tokenID(prefix, v string) string {
	if v == "" {
		return ""
	}
	if t.central && strings.HasPrefix(v, prefix) {
		return v // a record's pseudonym
	}
	if t.key != nil { // keyed: short or guessable tokens can not be found by trying them
		m := hmac.New(sha256.New, t.key)
		m.Write([]byte(v))
		return prefix + hex.EncodeToString(m.Sum(nil)[:6])
	}
	s := sha256.Sum256([]byte("apitap-actor\x00" + v))
	return prefix + hex.EncodeToString(s[:6])
}

func fpID(fp uint64) string {
	return "h:" + hex.EncodeToString([]byte{byte(fp >> 40), byte(fp >> 32), byte(fp >> 24), byte(fp >> 16), byte(fp >> 8), byte(fp)})
}

// Actor is one actor as reported (events, the read summary).
type Actor struct {
	Kind       string
	Client     string // the client software class: browser, tool, automation, crawler, health_check, service
	Actor      event.Actor
	Score      float64
	Stage      string
	Requests   uint64
	First      time.Time
	Last       time.Time
	IPs        []string
	Users      []string
	Prints     []string
	Sessions   []string
	SNIs       []string
	Detections map[string]uint32
}

func (t *Tracker) snapshot(r *record, now int64) Actor {
	a := Actor{Kind: kindNames[r.kind], Actor: r.exported(), Score: math.Round(t.decayed(r, now)*10) / 10, Stage: Stages[r.stage], Requests: r.requests,
		First: time.Unix(0, r.first).UTC(), Last: time.Unix(0, r.last).UTC(),
		IPs: ipTexts(r.ips), Users: append([]string(nil), r.users...), Prints: append([]string(nil), r.fps...), Sessions: append([]string(nil), r.sess...),
		SNIs: append([]string(nil), r.snis...)}
	if r.kind != kCampaign && r.ipSeen {
		a.Client = agentNames[r.agent]
		if r.service {
			a.Client = "service"
		}
	}
	if r.kind != kIP && r.ipSeen {
		k := addrKey(r.lastIP)
		if s, _ := t.addrs.Peek(k); t.sharedBy(k, s) {
			a.Actor.IP = "" // a NAT gateway's or proxy's address is not this actor's
		}
	}
	for c, n := range r.dets {
		if n > 0 {
			if a.Detections == nil {
				a.Detections = map[string]uint32{}
			}
			a.Detections[classNames[c]] += n
		}
	}
	return a
}

// ipTexts formats addresses (nil for none).
func ipTexts(ips []netip.Addr) []string {
	var s []string
	for _, a := range ips {
		s = append(s, a.String())
	}
	return s
}

// Top returns the n actors with the highest scores at time now (capture
// time), highest first.
func (t *Tracker) Top(n int, now time.Time) []Actor {
	t.mu.Lock()
	var all []Actor
	for _, r := range t.actors {
		if r.score > 0 {
			all = append(all, t.snapshot(r, now.UnixNano()))
		}
	}
	t.mu.Unlock()
	sortActors(all)
	if len(all) > n {
		all = all[:n]
	}
	return all
}

func sortActors(all []Actor) {
	sort.Slice(all, func(i, j int) bool {
		if all[i].Score != all[j].Score {
			return all[i].Score > all[j].Score
		}
		return actorName(all[i]) < actorName(all[j])
	})
}

// actorName is the actor's main identity, for sorting and display.
func actorName(a Actor) string {
	switch a.Kind {
	case "user":
		return "user:" + a.Actor.User
	case "api_key":
		return "api_key:" + a.Actor.APIKey
	case "session":
		return "session:" + a.Actor.Session
	case "fingerprint", "campaign":
		return a.Kind + ":" + a.Actor.Fingerprint
	}
	return "ip:" + a.Actor.IP
}

// Name is the actor's main identity ("user:alice", "ip:203.0.113.7").
func (a Actor) Name() string { return actorName(a) }
