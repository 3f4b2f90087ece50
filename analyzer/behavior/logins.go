package behavior

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/apitap/apitap/analyzer/event"
)

// logins counts a login attempt at its source address, its target
// username and its endpoint (campaigns), or an account probe at its
// source.
func (a *Analyzer) logins(r *record, o *Observation, k kind, shared bool, ep *epState) {
	t := a.t
	lo := &o.Login
	src := r
	if k != kIP {
		src = t.touch(o.ClientKey, kIP, o.At)
		a.identify(src, o, "")
		src.requests++ // the principal's record counted it otherwise
		shared = t.shared(o.ClientKey)
	}
	switch lo.Kind {
	case lkAttempt:
		a.login(src, o, shared, ep)
		if lo.OK && lo.Session != "" && lo.User != "" {
			t.stitch(lo.Session, lo.User)
		}
	case lkProbe:
		if !shared {
			a.enumerate(src, o, lo.User)
		}
	}
}

// graphQLLogins counts each login attempt of a GraphQL request (a batch's
// elements, a login field's aliases) as one login: a batch of N login
// mutations is N attempts, each with the outcome its part of the answer
// reported (package graphql fills Notes.GraphQL).
func (a *Analyzer) graphQLLogins(r *record, o *Observation, k kind, shared bool, ep *epState) {
	for _, l := range o.Logins {
		o.Login = LoginOutcome{Kind: lkAttempt, User: l.User, OK: !l.Failed, Answer: l.Answer}
		a.logins(r, o, k, shared, ep)
	}
	o.Login = LoginOutcome{}
}

// login counts one attempt from the address src.
func (a *Analyzer) login(src *record, o *Observation, shared bool, ep *epState) {
	t, cfg := a.t, a.t.cfg
	lo := &o.Login
	userHash := keyOf(kUser, lo.User)
	l := src.login
	if l == nil {
		l = &loginState{}
		src.login = l
	}
	if roll(&l.start, o.At, t.window) {
		l.attempts, l.failures, l.successes = 0, 0, 0
		l.users.reset()
	}
	l.attempts++
	l.users.add(userHash, max(64, 2*cfg.StuffingUsers))
	if lo.OK {
		if !shared && int(l.failRun) >= cfg.TakeoverFailures {
			d := event.Evidence{Location: "body", Name: "username", Value: exportUser(lo.User), Rule: fmt.Sprintf("success after %d failed logins", l.failRun)}
			before := src.actor.User
			src.actor.User = exportUser(lo.User)
			if src.emitted[cTakeover] != l.start {
				a.detect(src, cTakeover, l.start, o.At, "high", 0.75, int(l.failRun)+1, []event.Evidence{d})
			}
			src.actor.User = before
		}
		l.failRun = 0
		l.successes++
	} else {
		l.failures++
		l.failRun++
		if !shared {
			a.enumerate(src, o, lo.User)
		}
	}
	users := l.users.len()
	if !shared && users >= cfg.StuffingUsers && int(l.attempts) >= cfg.StuffingUsers && float64(l.failures) >= cfg.StuffingFailRatio*float64(l.attempts) &&
		src.emitted[cStuffing] != l.start {
		a.detect(src, cStuffing, l.start, o.At, "high", 0.9, int(l.attempts),
			[]event.Evidence{{Location: "body", Name: "username", Value: fmt.Sprintf("%d distinct usernames, %d of %d failed", users, l.failures, l.attempts),
				Rule: fmt.Sprintf("stuffing_users>=%d", cfg.StuffingUsers)}})
	}
	if !shared && users <= 2 && int(l.failures) >= cfg.BruteForce && src.emitted[cBrute] != l.start {
		a.detect(src, cBrute, l.start, o.At, "high", 0.85, int(l.failures),
			[]event.Evidence{{Location: "body", Name: "username", Value: fmt.Sprintf("%d failed logins for %d username(s)", l.failures, users), Rule: fmt.Sprintf("brute_force>=%d", cfg.BruteForce)}})
	}
	if !lo.OK && ep != nil {
		a.loginCampaign(ep, src, o, userHash)
	}
	if lo.User == "" {
		return
	}
	// many addresses against one account: a distributed brute force
	tr := t.touch(userHash, kUser, o.At)
	if tr.actor.User == "" {
		tr.actor.User = exportUser(lo.User)
		tr.users.add(tr.actor.User, 8)
	}
	if tr.login == nil {
		tr.login = &loginState{}
	}
	tl := tr.login
	if roll(&tl.tStart, o.At, t.window) {
		tl.tFail = 0
		tl.tIPs.reset()
	}
	if !lo.OK {
		tl.tFail++
		tl.tIPs.add(o.ClientKey, 64)
		if int(tl.tFail) >= 2*cfg.BruteForce && tl.tIPs.len() >= 3 && tr.emitted[cBrute] != tl.tStart {
			a.detect(tr, cBrute, tl.tStart, o.At, "medium", 0.75, int(tl.tFail),
				[]event.Evidence{{Location: "body", Name: "username", Value: fmt.Sprintf("%d failed logins from %d addresses against this account", tl.tFail, tl.tIPs.len()),
					Rule: fmt.Sprintf("brute_force>=%d (distributed)", 2*cfg.BruteForce)}})
		}
	}
}

// enumerate counts one username probed at a login or account endpoint
// (password reset, availability check, sign-up) from the address src:
// many usernames whose answers fall in different classes (known and
// unknown users answered differently) is user enumeration.
func (a *Analyzer) enumerate(src *record, o *Observation, name string) {
	t, cfg := a.t, a.t.cfg
	e := src.enum
	if e == nil {
		e = &enumState{}
		src.enum = e
	}
	if roll(&e.start, o.At, t.window) {
		e.users.reset()
		e.classes.reset()
	}
	e.users.add(keyOf(kUser, name), max(64, cfg.StuffingUsers))
	e.classes.add(o.Login.Answer, 8)
	if e.users.len() >= cfg.StuffingUsers && e.classes.len() >= 2 && src.emitted[cEnum] != e.start {
		a.detect(src, cEnum, e.start, o.At, "medium", 0.7, e.users.len(),
			[]event.Evidence{{Location: "response_body", Name: "answers", Value: fmt.Sprintf("%d usernames probed, answered in %d different ways", e.users.len(), e.classes.len()),
				Rule: fmt.Sprintf("stuffing_users>=%d with differing answers", cfg.StuffingUsers)}})
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
