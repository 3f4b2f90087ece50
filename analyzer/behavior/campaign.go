package behavior

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/apitap/apitap/analyzer/event"
)

// Campaigns: many addresses acting as one actor against one target. A
// campaign has its own actor record (kind campaign, its member addresses
// as identities) and every member address gets the detection, naming the
// campaign as its fingerprint, so that each can be blocked.

// maxMembers bounds the members a campaign lists (more are counted and
// still detected when they come back).
const maxMembers = 256

// campaign is a scraping campaign: automated clients at several addresses
// reading the objects of one catalog endpoint.
type campaign struct {
	key     uint64
	start   int64
	union   lincount // objects read by all members
	members []member
	more    int // members beyond maxMembers
	active  bool
	rec     *record
}

type member struct {
	r     *record
	shape uint64
	d     uint32 // distinct objects it read (at its last request)
}

// campaignID names a campaign as detections' fingerprint.
func campaignID(key uint64) string {
	return "h:" + hex.EncodeToString([]byte{byte(key >> 40), byte(key >> 32), byte(key >> 24), byte(key >> 16), byte(key >> 8), byte(key)})
}

// scrapeCampaign counts a walker (an automated client reading many
// distinct objects of the catalog endpoint ep, rarely twice) into the
// endpoint's campaign of the long window; once the members together read
// far more objects than any reader usually does, every member is detected.
func (a *Analyzer) scrapeCampaign(ep *epState, wk *walkState, r *record, o *Observation, ref float64, known bool) {
	t, cfg := a.t, a.t.cfg
	c := ep.camp
	if c == nil || o.At-c.start >= t.long || o.At < c.start {
		key := o.Endpoint ^ uint64(o.At)*0x9e3779b97f4a7c15
		c = &campaign{key: key, start: o.At}
		ep.camp = c
	}
	if wk.camp != c {
		wk.camp = c
		c.union.or(&wk.lobj)
		if len(c.members) < maxMembers {
			c.members = append(c.members, member{r: r, shape: o.Shape, d: wk.ld})
		} else {
			c.more++
		}
	} else {
		c.union.add(o.Object)
		for i := range c.members {
			if c.members[i].r == r {
				c.members[i].d = wk.ld
				break
			}
		}
	}
	n := len(c.members) + c.more
	u := c.union.estimate()
	if n < 3 || u < cfg.ScrapeObjects || !known || float64(u) < cfg.ScrapeFactor*max(ref, 1) {
		return
	}
	if !c.active {
		c.active = true
		c.rec = t.touch(c.key, kCampaign, o.At)
		c.rec.actor.Fingerprint = campaignID(c.key)
		t.raise(c.rec, o.At, severityScore["medium"], stAbuse)
	}
	c.rec.requests++
	due := a.due(r, cScraping, c.start)
	for _, m := range c.members {
		due = due || m.r.live && a.due(m.r, cScraping, c.start)
	}
	if !due { // every member already has its detection
		return
	}
	var sum uint32
	shapes := map[uint64]int{}
	for _, m := range c.members {
		sum += m.d
		shapes[m.shape]++
	}
	common := 0
	for _, v := range shapes {
		common = max(common, v)
	}
	overlap := 0.0
	if sum > 0 {
		overlap = max(0, 1-float64(u)/float64(sum))
	}
	ev := []event.Evidence{{Location: "path", Name: "campaign",
		Value: fmt.Sprintf("%d automated clients at different addresses read %d distinct objects of this endpoint together (%.0f%% read by more than one; %d share one request shape); its readers usually read up to %.0f",
			n, u, 100*overlap, common, ref),
		Rule: fmt.Sprintf("scrape_objects>=%d, %.0fx the usual, together", cfg.ScrapeObjects, cfg.ScrapeFactor)}}
	conf := 0.7
	if common >= 3 || overlap < 0.1 {
		conf = 0.8 // one tool, or a walk split between the members
	}
	id := campaignID(c.key)
	for _, m := range c.members {
		if !m.r.live || !a.due(m.r, cScraping, c.start) {
			continue
		}
		c.rec.sawIP(m.r.lastIP, 16)
		a.detectAs(m.r, cScraping, c.start, o.At, "medium", conf, int(m.d), ev, id)
	}
	if a.due(r, cScraping, c.start) { // a member past the listed ones
		a.detectAs(r, cScraping, c.start, o.At, "medium", conf, int(wk.ld), ev, id)
	}
}

// loginCampaign is what one login endpoint saw in the current window:
// failed attempts, the distinct usernames and addresses that failed, and
// what is usual for the endpoint.
type loginCampaign struct {
	start              int64
	attempts, failures uint32
	users, addrs       lincount
	members            []netip.Addr // addresses with failed attempts (bounded)
	more               int
	usual              ewma // distinct failed usernames per window, learnt from windows without a campaign
	active             bool
	key                uint64
	rec                *record
	ep                 event.Endpoint  // the login endpoint, as detections name it
	pending            []pendingMember // members with one failed attempt, detected if no success follows
}

// pendingMember is an address that failed once during a campaign: it is
// a member if it does not succeed within memberWait (a person who mistyped
// tries again at once).
type pendingMember struct {
	addr netip.Addr
	due  int64
}

// memberWait is how long a campaign waits for a success from an address
// that failed once.
const memberWait = int64(time.Minute)

// loginCampaign counts a failed login at endpoint ep from src: when the
// distinct usernames failing at the endpoint in a window are far above
// its usual (mistyped passwords), the addresses that only failed are one
// campaign (credential stuffing through rotating addresses: a few
// attempts each, the User-Agent changed every time).
func (a *Analyzer) loginCampaign(ep *epState, src *record, o *Observation, user uint64) {
	t, cfg := a.t, a.t.cfg
	c := ep.login
	if c == nil {
		c = &loginCampaign{}
		ep.login = c
	}
	if c.start == 0 || o.At-c.start >= t.window || o.At < c.start {
		if c.start != 0 && !c.active {
			c.usual.learn(float64(c.users.estimate()))
		}
		usual := c.usual
		*c = loginCampaign{start: o.At, usual: usual, key: o.Endpoint ^ uint64(o.At)*0x9e3779b97f4a7c15, pending: c.pending[:0]}
	}
	c.attempts++
	c.failures++
	c.users.add(user)
	if c.addrs.add(o.ClientKey) {
		if len(c.members) < maxMembers {
			c.members = append(c.members, o.Client)
		} else {
			c.more++
		}
	}
	fu := c.users.estimate()
	fresh := !c.active
	if !c.active {
		if fu < 2*cfg.StuffingUsers || c.addrs.estimate() < 3 || float64(fu) < cfg.CampaignFactor*max(float64(c.usual.mean), 2) {
			return
		}
		c.active = true
		c.rec = t.touch(c.key, kCampaign, o.At)
		c.rec.actor.Fingerprint = campaignID(c.key)
		t.raise(c.rec, o.At, severityScore["high"], stAbuse)
		c.ep = a.endpoint()
		t.logins = append(t.logins, c)
	}
	c.rec.requests++
	id := campaignID(c.key)
	check := c.members // when the campaign is found: every address so far
	if !fresh {
		check = []netip.Addr{o.Client} // then each as it comes
	}
	for _, addr := range check {
		m := t.actors[addrKey(addr)]
		if m == nil || m.login == nil || !a.due(m, cStuffing, c.start) || t.shared(addrKey(addr)) {
			continue
		}
		l := m.login
		if l.failures == 0 || l.successes > 0 || l.start < c.start-t.window {
			continue
		}
		if l.users.len() < 2 { // one account tried: a member unless it gets in soon
			if !slices.ContainsFunc(c.pending, func(p pendingMember) bool { return p.addr == addr }) && len(c.pending) < maxMembers {
				c.pending = append(c.pending, pendingMember{addr: addr, due: o.At + memberWait})
			}
			continue
		}
		c.rec.sawIP(addr, 16)
		a.detectAs(m, cStuffing, c.start, o.At, "high", 0.85, int(l.attempts), c.evidence(cfg), id) // several accounts tried, none opened
	}
}

// evidence describes the campaign for its members' detections.
func (c *loginCampaign) evidence(cfg *Config) []event.Evidence {
	return []event.Evidence{{Location: "body", Name: "username",
		Value: fmt.Sprintf("%d distinct usernames failed at this endpoint from %d addresses in the window (usually %.0f); this address only failed",
			c.users.estimate(), c.addrs.estimate(), c.usual.mean),
		Rule: fmt.Sprintf("stuffing_users>=%d across addresses, %.0fx the usual", 2*cfg.StuffingUsers, cfg.CampaignFactor)}}
}

// flushLogins detects the pending members of active login campaigns
// that did not log in within memberWait.
func (a *Analyzer) flushLogins(now int64) {
	t := a.t
	keep := t.logins[:0]
	for _, c := range t.logins {
		rest := c.pending[:0]
		for _, p := range c.pending {
			if now < p.due {
				rest = append(rest, p)
				continue
			}
			m := t.actors[addrKey(p.addr)]
			if m == nil || m.login == nil || m.login.successes > 0 || m.login.failures == 0 || t.shared(addrKey(p.addr)) {
				continue
			}
			a.ep, a.epSet, a.primary, a.claimed = c.ep, true, 0, false
			c.rec.sawIP(p.addr, 16)
			a.detectAs(m, cStuffing, c.start, now, "medium", 0.6, int(m.login.attempts), c.evidence(t.cfg), campaignID(c.key))
		}
		c.pending = rest
		if len(rest) > 0 || now-c.start < t.window {
			keep = append(keep, c)
		}
	}
	clear(t.logins[len(keep):])
	t.logins = keep
}
