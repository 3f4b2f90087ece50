package behavior

import (
	"crypto/hmac"
	"crypto/sha256"
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
)

var kindNames = [...]string{"ip", "user", "api_key", "session", "fingerprint"}

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
	if len(*l) < capacity {
		*l = append(*l, v)
	}
}

// sawIP links an address to the actor. Addresses are formatted only when
// exported: a user's requests come over many connections, so the
// latest address changes from one request to the next.
func (r *record) sawIP(a netip.Addr) {
	if r.lastIP == a {
		return
	}
	r.lastIP, r.ipSeen = a, true
	if len(r.ips) < 8 && !slices.Contains(r.ips, a) {
		r.ips = append(r.ips, a)
	}
}

// exported is the actor as it leaves the sensor, with its latest address.
func (r *record) exported() event.Actor {
	a := r.actor
	if r.ipSeen {
		a.IP = r.lastIP.String()
	}
	return a
}

// record is one actor, or a login source or target.
type record struct {
	key         uint64
	kind        kind
	actor       event.Actor  // identities as exported (redacted), latest; IP is filled in by exported
	ips         []netip.Addr // linked identities: addresses (as text when exported),
	fps         strs         // HTTP prints h:..., TLS ja4:...,
	users, sess strs
	snis        strs // TLS server names asked for
	first, last int64
	requests    uint64
	lastIP      netip.Addr
	ipSeen      bool // lastIP was set (it may be the zero Addr)
	lastFP      uint64
	lastSession string

	score    float64
	scoreAt  int64
	stage    uint8
	repScore int
	repStage uint8
	dirty    bool
	live     bool
	dets     [numClasses]uint32

	minute   int64 // rate: current minute and its count
	minCount uint32

	userCalls, privCalls uint32 // 2xx calls to ordinary and privileged endpoints

	login *loginState
	walk  *walkState
	own   *ownState
	bot   *botState
	exfil *exfilState
	slow  *slowState
	enum  *enumState

	emitted    [numClasses]int64 // window start of the last detection, per class
	emitMax    int64             // the latest of them
	prev, next *record
}

type loginState struct {
	start              int64
	attempts, failures uint32
	users, ips         set
	failRun            uint32 // consecutive failures (as a source)
	// as the target of attempts (a username)
	tStart int64
	tFail  uint32
	tIPs   set
}

type walkState struct {
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
}

type botState struct {
	start          int64
	n, tool, spoof uint32
	lastAt         int64
	gaps           uint32
	mean, m2       float64 // of the gaps (Welford), seconds
}

// epState learns whether an endpoint's objects are shared (a catalog many
// principals read) or owned (each id read by one principal).
type epState struct {
	first         map[uint64]uint64 // id -> first principal, bounded
	total, shared uint32
	// load: this minute's requests, 5xx answers and latency, and what is
	// usual (exponentially weighted over the minutes seen)
	minute          int64
	count, n5xx     uint32
	latSum          float64
	usual, usualLat float64
	minutes         uint32
	dosAt           int64 // minute of the last dos detection
	// owner fields: answers checked and answers that had one; once 64
	// answers had none the endpoint's answers are not searched any more
	ownerChecks, ownerHits atomic.Uint32
}

// wantsOwner says whether the endpoint's answers may carry owner fields.
func (e *epState) wantsOwner() bool {
	return e == nil || e.ownerHits.Load() > 0 || e.ownerChecks.Load() < 64
}

// sawOwner counts one answer searched for an owner field.
func (e *epState) sawOwner(found bool) {
	if e == nil {
		return
	}
	e.ownerChecks.Add(1)
	if found {
		e.ownerHits.Add(1)
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

// maxEndpoints bounds the endpoints tracked per shard (4096 in all: with
// maxEndpointIDs, at most about 2M remembered ids); more are not tracked
// (no dos baseline, no catalog test for their walks).
const maxEndpoints = 128

// load is what observeEndpoint says about an endpoint's traffic.
type load struct {
	objs    objects
	surge   bool // a dos: far above the usual rate, failing or slowing
	count   uint32
	usual   float64
	n5xx    uint32
	lat     float64 // this minute's mean latency, seconds
	usualLt float64
	minute  int64
	ep      *epState // nil when the endpoint table is full
}

// observeEndpoint counts one request to an endpoint: its minute's load
// against the usual, and (for a 2xx read of object id by principal, when
// id is not 0) whether the endpoint's objects are read by several
// principals (walking them is scraping a catalog, not reading other
// users' objects).
func (t *Tracker) observeEndpoint(tpl, id, principal uint64, now int64, fail bool, latency float64) (l load) {
	cfg := t.cfg
	s := &t.shards[tpl%numShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endpoints == nil {
		s.endpoints = map[uint64]*epState{}
	}
	e := s.endpoints[tpl]
	if e == nil {
		if len(s.endpoints) >= maxEndpoints {
			return l
		}
		e = &epState{first: map[uint64]uint64{}}
		s.endpoints[tpl] = e
	}
	if m := now / int64(time.Minute); m > e.minute { // a late transaction counts in the current minute
		if e.count > 0 && e.minute != 0 {
			lat := e.latSum / float64(e.count)
			if e.minutes == 0 {
				e.usual, e.usualLat = float64(e.count), lat
			} else if e.dosAt != e.minute { // a surge does not teach what is usual
				e.usual = e.usual*0.9 + 0.1*float64(e.count)
				e.usualLat = e.usualLat*0.9 + 0.1*lat
			}
			e.minutes++
		}
		e.minute, e.count, e.n5xx, e.latSum = m, 0, 0, 0
	}
	e.count++
	if fail {
		e.n5xx++
	}
	e.latSum += latency
	l = load{count: e.count, usual: e.usual, n5xx: e.n5xx, lat: e.latSum / float64(e.count), usualLt: e.usualLat, minute: e.minute, ep: e}
	if e.dosAt != e.minute && e.minutes >= 3 && e.count >= uint32(cfg.DosPerMinute) && float64(e.count) >= cfg.DosFactor*e.usual &&
		(e.n5xx*5 >= e.count || (e.usualLat > 0 && l.lat >= 3*e.usualLat)) {
		e.dosAt = e.minute
		l.surge = true
	}
	if id == 0 {
		return l
	}
	e.total++
	switch p, ok := e.first[id]; {
	case !ok:
		if len(e.first) < maxEndpointIDs {
			e.first[id] = principal
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

type slowState struct {
	start      int64
	probes     uint32
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
}

const numShards = 32

type shard struct {
	mu         sync.Mutex
	m          map[uint64]*record
	head, tail *record // most recently seen first
	max        int
	baseline   float64           // per-actor requests per minute, exponentially weighted
	sessions   map[uint64]string // session -> user, for stitching
	endpoints  map[uint64]*epState
	dirty      []*record
}

// Tracker is the state every worker shares.
type Tracker struct {
	cfg     *Config
	window  int64
	shards  [numShards]shard
	evicted atomic.Uint64
	sensor  string
	allow   allowlist
	key     []byte // hash_key_file's key, for session and API key hashes
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
	t := &Tracker{cfg: cfg, window: int64(cfg.Window), sensor: sensor, allow: newAllowlist(cfg.Allowlist)}
	for i := range t.shards {
		t.shards[i].m = map[uint64]*record{}
		t.shards[i].max = max(cfg.MaxActors/numShards, 4)
	}
	return t
}

// Evicted counts actors dropped from the full table.
func (t *Tracker) Evicted() uint64 { return t.evicted.Load() }

// Len is the number of actors held.
func (t *Tracker) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

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

// lock finds or makes the record for key and returns it with its shard
// locked; the caller unlocks.
func (t *Tracker) lock(key uint64, k kind, now int64) (*shard, *record) {
	s := &t.shards[key%numShards]
	s.mu.Lock()
	r := s.m[key]
	if r == nil {
		if len(s.m) >= s.max {
			old := s.tail
			s.unlink(old)
			delete(s.m, old.key)
			old.live = false
			t.evicted.Add(1)
		}
		r = &record{key: key, kind: k, first: now, live: true, repScore: -1}
		s.m[key] = r
	} else {
		s.unlink(r)
	}
	r.next, r.prev = s.head, nil
	if s.head != nil {
		s.head.prev = r
	}
	s.head = r
	if s.tail == nil {
		s.tail = r
	}
	if now > r.last {
		r.last = now
	}
	return s, r
}

func (s *shard) unlink(r *record) {
	if r.prev != nil {
		r.prev.next = r.next
	} else if s.head == r {
		s.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else if s.tail == r {
		s.tail = r.prev
	}
	r.prev, r.next = nil, nil
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
func (t *Tracker) raise(s *shard, r *record, now int64, by float64, stage uint8) {
	r.score = min(t.decayed(r, now)+by, 100)
	r.scoreAt = now
	if stage > r.stage {
		r.stage = stage
	}
	if !r.dirty {
		r.dirty = true
		s.dirty = append(s.dirty, r)
	}
}

var severityScore = map[string]float64{"info": 1, "low": 5, "medium": 15, "high": 30, "critical": 50}

// classStage is the kill-chain stage a detection puts its actor in.
var classStage = [numClasses]uint8{cStuffing: stAbuse, cBrute: stAbuse, cTakeover: stExploitation, cBOLA: stExploitation, cRate: stAbuse, cBot: stProbing, cExfil: stExfiltration,
	cScraping: stAbuse, cDos: stAbuse, cSlow: stProbing, cEnum: stRecon, cBOLAOwner: stExploitation, cBOLAFunc: stExploitation, cBOLAMass: stExploitation}

// detect makes a detection once per actor, class and window.
func (t *Tracker) detect(s *shard, r *record, c class, winStart, now int64, sev string, conf float64, count int, ep event.Endpoint, ev []event.Evidence, out *[]event.Detection) bool {
	if r.emitted[c] == winStart {
		return false
	}
	r.emitted[c] = winStart
	r.emitMax = max(r.emitMax, winStart)
	r.dets[c]++
	t.raise(s, r, now, severityScore[sev], classStage[c])
	h := keyOf(kind(c), classNames[c])
	for _, x := range [...]uint64{r.key, uint64(winStart)} {
		h ^= x
		h *= 1099511628211
	}
	*out = append(*out, event.Detection{
		ID:    "bh-" + hex.EncodeToString([]byte{byte(h >> 56), byte(h >> 48), byte(h >> 40), byte(h >> 32), byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)}),
		Class: classNames[c], Severity: sev, Confidence: conf, Actor: r.exported(), Endpoint: ep, Evidence: ev,
		FirstSeen: time.Unix(0, winStart).UTC(), LastSeen: time.Unix(0, now).UTC(), Count: count, Action: "log",
	})
	return true
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
		if c := u[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-|:", c) >= 0) {
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
	var all []Actor
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for _, r := range s.m {
			if r.score > 0 {
				all = append(all, t.snapshot(r, now.UnixNano()))
			}
		}
		s.mu.Unlock()
	}
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
	case "fingerprint":
		return "fingerprint:" + a.Actor.Fingerprint
	}
	return "ip:" + a.Actor.IP
}

// Name is the actor's main identity ("user:alice", "ip:203.0.113.7").
func (a Actor) Name() string { return actorName(a) }
