package blocklist

import (
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"
)

// State is the current blocklist as `apitap blocklist` materialises it
// from the compacted topic: one validated Item per key. Safe for
// concurrent use.
type State struct {
	// Rejects counts the refused events, by output and reason.
	Rejects Rejects

	never   *Guard
	outputs map[string]bool // the configured outputs (true: addresses only), for counting rejects

	mu      sync.Mutex
	items   map[string]Item
	version uint64
}

// NewState returns an empty state. never is the consumer's never-block
// set (the built-in ranges are always refused; add the enforcement
// point's own addresses and --never-block to it); outputs name the
// configured outputs (true: the output takes only addresses), so that a
// refused event is counted once for each output it would have reached.
func NewState(never *Guard, outputs map[string]bool) *State {
	return &State{never: never, outputs: outputs, items: map[string]Item{}}
}

// ConsumerGuard is a never-block set for the consumer side: the built-in
// ranges and what is added to it, but not the private ranges (the sensor
// decided those) and no learning.
func ConsumerGuard() *Guard {
	f := false
	return NewGuard(Config{NeverBlock: NeverBlockConfig{Private: &f, LearnServers: &f}}.WithDefaults())
}

// event is what the consumer reads of a blocklist event.
type blEvent struct {
	Type   string `json:"type"`
	Sensor string `json:"sensor"`
	Actor  struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"actor"`
	Action     string    `json:"action"`
	Confidence string    `json:"confidence"`
	Reason     string    `json:"reason"`
	Expires    time.Time `json:"expires_at"`
	Revoked    bool      `json:"revoked"`
}

// Apply applies one message of the topic (an empty value is a tombstone
// that revokes key) and reports whether the blocklist changed. An event
// that fails validation is counted and removes what key held: a bad
// update never leaves an old entry behind, and never reaches an output.
func (s *State) Apply(key string, value []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.items[key]
	if len(value) == 0 {
		delete(s.items, key)
		if had {
			s.version++
		}
		return had
	}
	var ev blEvent
	why := ""
	if len(value) > 64<<10 || json.Unmarshal(value, &ev) != nil || ev.Type != "blocklist" || key != ev.Actor.Type+":"+ev.Actor.Value {
		why = RejectBadEvent
	}
	canon := ""
	if why == "" {
		canon, why = Canonical(ev.Actor.Type, ev.Actor.Value, s.never.AddrReason, s.never.PrefixReason)
	}
	if why == "" && ev.Revoked {
		delete(s.items, key)
		if had {
			s.version++
		}
		return had
	}
	if why == "" && !knownAction(ev.Action) {
		why = RejectAction
	}
	if why == "" && (!validReason(ev.Reason) || !validReason(ev.Confidence) || !ValidIdentity(orText(ev.Sensor))) {
		why = RejectReason
	}
	if why != "" {
		for o, addrOnly := range s.outputs {
			if !addrOnly || IsAddress(ev.Actor.Type) || why == RejectType || why == RejectBadEvent {
				s.Rejects.Add(o, why)
			}
		}
		delete(s.items, key)
		if had {
			s.version++
		}
		return had
	}
	s.items[key] = Item{Key: ev.Actor.Type + ":" + canon, Type: ev.Actor.Type, Value: canon, Action: ev.Action, Confidence: ev.Confidence,
		Reason: ev.Reason, Expires: ev.Expires, Sensor: ev.Sensor}
	s.version++
	return true
}

func orText(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Expire drops entries past their expiry (wall clock) and reports whether
// any was.
func (s *State) Expire(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for k, e := range s.items {
		if !e.Expires.IsZero() && now.After(e.Expires) {
			delete(s.items, k)
			changed = true
		}
	}
	if changed {
		s.version++
	}
	return changed
}

// Snapshot lists the items by key, and the state's version (it grows with
// every change).
func (s *State) Snapshot() ([]Item, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Item, 0, len(s.items))
	for _, it := range s.items {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, s.version
}

// Enforced lists the canonical addresses and networks of the items whose
// action is in enforce (the plain feed).
func Enforced(items []Item, enforce map[string]bool) []string {
	var out []string
	for _, it := range items {
		if IsAddress(it.Type) && enforce[it.Action] {
			out = append(out, it.Value)
		}
	}
	return out
}

// DryRunAction says whether a is a dry-run action (would_*) and returns
// the action it stands for.
func DryRunAction(a string) (string, bool) {
	return strings.CutPrefix(a, "would_")
}
