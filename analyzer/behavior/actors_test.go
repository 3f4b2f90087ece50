package behavior

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer"
	_ "github.com/apitap/apitap/analyzer/attack"
	_ "github.com/apitap/apitap/analyzer/conformance"
	"github.com/apitap/apitap/analyzer/event"
	_ "github.com/apitap/apitap/analyzer/risk"
	_ "github.com/apitap/apitap/analyzer/sensitive"
	"github.com/apitap/apitap/exporter/blocklist"
	"github.com/apitap/apitap/internal/testgen/actorgen"
	"github.com/apitap/apitap/reassembly"
)

// harness runs generated traffic through the analyzers behaviour runs
// after (sensitive, attack: their verdicts are its input), behaviour, and
// the blocklist policy as the sensor configures it by default.
type harness struct {
	t       testing.TB
	tr      *actorgen.Traffic
	chain   *analyzer.Chain
	tracker *Tracker
	block   *blocklist.Manager
	dets    []event.Detection
	entries map[string]entry // blocklist key -> strongest action
}

// entry is a blocklist entry as seen: its strongest action and whether a
// behaviour detection asked for it.
type entry struct {
	action    string
	behaviour bool
}

func (h *harness) Detection(d *event.Detection) {
	c := *d
	c.Evidence = slices.Clone(d.Evidence)
	c.Confirmed = true // generated flows had their handshake and answers
	h.dets = append(h.dets, c)
	h.block.Detection(&c)
}

func newHarness(t testing.TB, tr *actorgen.Traffic, behaviour *Config) *harness {
	h := &harness{t: t, tr: tr, entries: map[string]entry{}}
	h.block = blocklist.New(blocklist.Config{}, "test", func(key string, line []byte, tombstone bool) {
		if tombstone || line == nil || strings.Contains(string(line), `"revoked":true`) {
			return
		}
		e := h.entries[key]
		for _, a := range []string{"block", "deceive", "rate_limit"} {
			if strings.Contains(string(line), `"action":"`+a+`"`) {
				if e.action == "" || a == "block" {
					e.action = a
				}
				break
			}
		}
		for _, c := range classNames {
			if strings.Contains(string(line), `"reason":"`+c) {
				e.behaviour = true
			}
		}
		h.entries[key] = e
	})
	var enabled []analyzer.Enabled
	for _, d := range analyzer.Registered() {
		switch d.Name {
		case "sensitive", "attack":
			enabled = append(enabled, analyzer.Enabled{Desc: d, Config: d.NewConfig()})
		case Name:
			enabled = append(enabled, analyzer.Enabled{Desc: d, Config: behaviour})
		}
	}
	env := analyzer.Env{Log: zerolog.Nop(), Sensor: "test"}
	shared, err := analyzer.NewShared(enabled, env)
	if err != nil {
		t.Fatal(err)
	}
	h.chain, err = analyzer.NewChain(enabled, shared, env)
	if err != nil {
		t.Fatal(err)
	}
	h.tracker = shared[Name].(*Tracker)
	return h
}

// run feeds every exchange; windows are flushed every second of capture
// time, as the sensor does.
func (h *harness) run() {
	states := map[uint64]*reassembly.FlowState{}
	var next time.Time
	var last time.Time
	for i := range h.tr.Exchanges {
		e := &h.tr.Exchanges[i]
		tx := e.Transaction()
		st := states[e.Conn]
		if st == nil {
			st = &reassembly.FlowState{}
			states[e.Conn] = st
		}
		tx.Flow.State = st
		if next.IsZero() {
			next = e.At.Add(time.Second)
		}
		if !e.At.Before(next) {
			h.chain.Flush(e.At, h)
			h.block.Tick(e.At)
			next = e.At.Add(time.Second)
		}
		h.chain.Analyze(tx, h)
		last = e.At
	}
	h.chain.Finish(last.Add(time.Second), h)
}

func analyzerOf(class string) string {
	switch {
	case slices.Contains(classNames[:], class):
		return Name
	case slices.Contains([]string{"sensitive_data", "pii_in_url", "plaintext_credentials", "jwt_weakness", "info_leak"}, class):
		return "sensitive"
	}
	return "attack"
}

// attribution finds the scenario of an actor: abuse scenarios first (by
// user or API key, then address), then benign ones; -1 when none.
func (h *harness) attribution() func(a event.Actor) int {
	users := map[string]int{}
	keys := map[string]int{}
	ips := map[string]int{}
	for pass := 0; pass < 2; pass++ {
		for i, s := range h.tr.Scenarios {
			if s.Abuse != (pass == 0) {
				continue
			}
			for _, u := range s.Users {
				if _, ok := users[exportUser(u)]; !ok {
					users[exportUser(u)] = i
				}
			}
			for _, k := range s.Keys {
				if _, ok := keys[h.tracker.tokenID("k:", k)]; !ok {
					keys[h.tracker.tokenID("k:", k)] = i
				}
			}
			for _, a := range s.IPs {
				if _, ok := ips[a.String()]; !ok {
					ips[a.String()] = i
				}
			}
		}
	}
	return func(a event.Actor) int {
		best := -1
		for _, c := range []struct {
			m map[string]int
			v string
		}{{users, a.User}, {keys, a.APIKey}, {ips, a.IP}} {
			if c.v == "" {
				continue
			}
			if i, ok := c.m[c.v]; ok && (best < 0 || h.tr.Scenarios[i].Abuse && !h.tr.Scenarios[best].Abuse) {
				best = i
			}
		}
		return best
	}
}

// entryScenario attributes a blocklist key (ip:..., user:..., api_key:...).
func (h *harness) entryScenario(key string, of func(event.Actor) int) int {
	typ, v, _ := strings.Cut(key, ":")
	var a event.Actor
	switch typ {
	case "ip":
		a.IP = v
	case "user":
		a.User = v
	case "api_key":
		a.APIKey = v
	case "cidr":
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return -1
		}
		// a network: attributed to a benign scenario if it holds any of its addresses
		for i, s := range h.tr.Scenarios {
			for _, ip := range s.IPs {
				if p.Contains(ip) && !s.Abuse {
					return i
				}
			}
		}
		a.IP = p.Addr().String()
	default:
		return -1
	}
	return of(a)
}

// result sums one run.
type result struct {
	detected        map[int]bool
	events          map[int]map[string]int // scenario -> "class/severity" -> events
	blocks          map[int]map[string]int // scenario -> action -> entries
	benignReqs      int
	benignBehaviour int // behaviour detection events on benign actors
	benignOther     int // other analyzers' detection events on benign actors
	benignHigh      int // high or critical behaviour detections on benign actors
	falseBlocks     int // block entries on benign identities
	falseLimits     int // rate_limit entries on benign identities
	falseOther      int // of those, entries that no behaviour detection asked for
	posture         int // plaintext_credentials events
	total           int
}

func (h *harness) judge() result {
	of := h.attribution()
	res := result{detected: map[int]bool{}, events: map[int]map[string]int{}, blocks: map[int]map[string]int{}, total: len(h.tr.Exchanges)}
	for _, s := range h.tr.Scenarios {
		if !s.Abuse {
			res.benignReqs += s.Requests
		}
	}
	for i := range h.dets {
		d := &h.dets[i]
		if d.Class == "plaintext_credentials" {
			res.posture++
		}
		sc := of(d.Actor)
		if res.events[sc] == nil {
			res.events[sc] = map[string]int{}
		}
		res.events[sc][d.Class+"/"+d.Severity]++
		if sc < 0 {
			continue
		}
		s := h.tr.Scenarios[sc]
		if s.Abuse && (d.Class == s.Class || slices.Contains(s.Also, d.Class)) {
			res.detected[sc] = true
		}
		if !s.Abuse && d.Class != "plaintext_credentials" {
			if analyzerOf(d.Class) == Name {
				res.benignBehaviour++
				if d.Severity == "high" || d.Severity == "critical" {
					res.benignHigh++
				}
			} else {
				res.benignOther++
			}
		}
	}
	for key, e := range h.entries {
		sc := h.entryScenario(key, of)
		if res.blocks[sc] == nil {
			res.blocks[sc] = map[string]int{}
		}
		what := e.action
		if !e.behaviour {
			what += "(not behaviour)"
		}
		res.blocks[sc][what]++
		if sc >= 0 && !h.tr.Scenarios[sc].Abuse {
			if !e.behaviour {
				res.falseOther++
				continue
			}
			if e.action == "rate_limit" {
				res.falseLimits++
			} else {
				res.falseBlocks++
			}
		}
	}
	return res
}

func (h *harness) print(res result, w func(format string, a ...any)) {
	w("%-28s %5s %7s  %-8s %s", "scenario", "abuse", "reqs", "found", "detection events (class/severity: events) | blocklist entries")
	for i, s := range h.tr.Scenarios {
		found := ""
		if s.Abuse {
			found = "MISSED"
			if res.detected[i] {
				found = "yes"
			}
		}
		w("%-28s %5v %7d  %-8s %s | %s", s.Name, s.Abuse, s.Requests, found, counts(res.events[i]), counts(res.blocks[i]))
	}
	if len(res.events[-1]) > 0 || len(res.blocks[-1]) > 0 {
		w("%-28s %5s %7s  %-8s %s | %s", "(no scenario)", "", "", "", counts(res.events[-1]), counts(res.blocks[-1]))
	}
}

func counts(m map[string]int) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s = append(s, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return strings.Join(s, " ")
}

// TestActorScenarios runs traffic from the independent generator
// (internal/testgen/actorgen: abuse and benign heavy users over two hours
// of capture) for several seeds through sensitive, attack, behaviour and
// the default blocklist policy, prints detections and blocklist entries
// per scenario, and checks the targets: every abuse scenario detected with
// its actor; on benign traffic no blocklist entry, no high-severity
// behaviour detection, and under one behaviour detection event per 1,000
// requests.
func TestActorScenarios(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:1]
	}
	var sum struct{ abuse, found, benignReqs, benignBehaviour, benignOther, high, blocks, limits, other, posture, total int }
	recall := map[string][2]int{}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			tr := actorgen.Generate(seed, actorgen.Options{})
			h := newHarness(t, tr, NewConfig())
			h.run()
			res := h.judge()
			h.print(res, t.Logf)
			for i, s := range tr.Scenarios {
				if !s.Abuse {
					continue
				}
				r := recall[s.Name]
				r[1]++
				sum.abuse++
				if res.detected[i] {
					r[0]++
					sum.found++
				} else {
					t.Errorf("%s: no %s detection for its actor", s.Name, s.Class)
				}
				recall[s.Name] = r
			}
			t.Logf("seed %d: %d exchanges, %d benign; behaviour events on benign actors %d (%.3f per 1000), other analyzers %d; high behaviour on benign %d; false blocks %d, false rate limits %d (and %d entries asked for by other analyzers); plaintext_credentials events %d",
				seed, res.total, res.benignReqs, res.benignBehaviour, 1000*float64(res.benignBehaviour)/float64(res.benignReqs), res.benignOther, res.benignHigh,
				res.falseBlocks, res.falseLimits, res.falseOther, res.posture)
			sum.benignReqs += res.benignReqs
			sum.benignBehaviour += res.benignBehaviour
			sum.benignOther += res.benignOther
			sum.high += res.benignHigh
			sum.blocks += res.falseBlocks
			sum.limits += res.falseLimits
			sum.other += res.falseOther
			sum.posture += res.posture
			sum.total += res.total
			if res.benignHigh > 0 {
				t.Errorf("%d high-severity behaviour detections on benign actors", res.benignHigh)
			}
			if res.falseBlocks+res.falseLimits > 0 {
				t.Errorf("%d block and %d rate_limit entries on benign identities", res.falseBlocks, res.falseLimits)
			}
			if 1000*res.benignBehaviour >= res.benignReqs {
				t.Errorf("%d behaviour detection events on %d benign requests: not under 1 per 1000", res.benignBehaviour, res.benignReqs)
			}
		})
	}
	var lines []string
	for _, n := range slices.Sorted(maps.Keys(recall)) {
		lines = append(lines, fmt.Sprintf("%s %d/%d", n, recall[n][0], recall[n][1]))
	}
	sort.Strings(lines)
	t.Logf("recall per scenario: %s", strings.Join(lines, ", "))
	t.Logf("all seeds: abuse found %d/%d; benign requests %d: behaviour events %d (%.3f per 1000), other analyzers' events %d (%.3f per 1000), high behaviour %d, false blocks %d, false rate limits %d (other analyzers' entries on benign identities %d); plaintext_credentials events %d on %d requests",
		sum.found, sum.abuse, sum.benignReqs, sum.benignBehaviour, 1000*float64(sum.benignBehaviour)/float64(max(sum.benignReqs, 1)), sum.benignOther,
		1000*float64(sum.benignOther)/float64(max(sum.benignReqs, 1)), sum.high, sum.blocks, sum.limits, sum.other, sum.posture, sum.total)
}
