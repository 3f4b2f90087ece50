package behavior

import (
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/observation"
)

// This file connects the detectors to apitap correlate: a sensor turns
// each Observation into an observation.Record (no raw values) and
// publishes it; the correlator turns records back into Observations and
// runs the same detectors (Central) over the records of many sensors.

// PublishObservations implements sensor.Publisher: fn receives the record
// of every observation; local false turns this sensor's own detectors off
// (sensor.correlation: central).
func (t *Tracker) PublishObservations(fn func(r *observation.Record), local bool) {
	t.publish, t.remoteOnly = fn, !local
}

// published hands the observation's record to the publisher. It reports
// whether the detectors are off here (central only).
func (a *Analyzer) published(o *Observation) bool {
	t := a.t
	if t.publish == nil {
		return false
	}
	r := &a.rec
	*r = observation.Record{
		At: o.At, Client: o.Client, Peer: o.Peer,
		User: a.pseudonym(o.User), APIKey: t.tokenID("k:", o.APIKey), Session: t.tokenID("s:", o.Session),
		Print: o.Print, Shape: o.Shape, Agent: uint8(o.Agent), Crawler: o.Crawler, UA: o.UA,
		Host: o.Host, Method: o.Method, Path: a.template(o.Path),
		Endpoint: o.Endpoint, Object: o.Object, Owner: o.Owner, MassAssigned: o.MassAssigned,
		Status: o.Status, ReqBytes: o.ReqBytes, RespBytes: o.RespSize, Latency: o.Latency,
		Attacks: o.Attacks, Sensitive: o.Sensitive,
		LoginKind: o.Login.Kind, LoginUser: t.tokenID("u:", o.Login.User), LoginSession: t.tokenID("s:", o.Login.Session),
		LoginForm: o.Login.Form, LoginAnswer: o.Login.Answer,
	}
	if _, ok := parseID(o.ObjectID); ok {
		r.ObjectID = o.ObjectID // a number: walks are measured on it
	}
	for _, f := range [...]struct {
		on  bool
		bit uint16
	}{{o.Service, observation.FlagService}, {o.Basic, observation.FlagBasic}, {o.Spoofed, observation.FlagSpoofed}, {o.Checked, observation.FlagChecked},
		{o.Health, observation.FlagHealth}, {o.Priv, observation.FlagPriv}, {o.AttackSucceeded, observation.FlagAttackSucceeded}, {o.Login.OK, observation.FlagLoginOK}} {
		if f.on {
			r.Flags |= f.bit
		}
	}
	t.publish(r)
	return t.remoteOnly
}

// pseudonym is a user as records carry it: the name detections export
// when that is the name itself, a keyed hash otherwise (masked e-mail
// addresses of different users would look alike).
func (a *Analyzer) pseudonym(u string) string {
	if u == "" {
		return ""
	}
	if e := exportUser(u); e == u && !strings.HasPrefix(u, "u:") {
		return e
	}
	return a.t.tokenID("u:", u)
}

// fromRecord fills o from a record of another sensor.
func fromRecord(r *observation.Record, o *Observation) {
	*o = Observation{At: r.At, Client: r.Client, ClientKey: addrKey(r.Client), Peer: r.Peer,
		User: r.User, Service: r.Has(observation.FlagService), Basic: r.Has(observation.FlagBasic), APIKey: r.APIKey, Session: r.Session,
		Print: r.Print, Shape: r.Shape, Agent: agent(r.Agent), UA: r.UA, Spoofed: r.Has(observation.FlagSpoofed), Crawler: r.Crawler,
		Checked: r.Has(observation.FlagChecked), Health: r.Has(observation.FlagHealth),
		Host: r.Host, Method: r.Method, Path: r.Path, Endpoint: r.Endpoint, Object: r.Object, ObjectID: r.ObjectID, Priv: r.Has(observation.FlagPriv),
		Status: r.Status, ReqBytes: r.ReqBytes, RespSize: r.RespBytes, Latency: r.Latency, Owner: r.Owner, MassAssigned: r.MassAssigned,
		Attacks: r.Attacks, AttackSucceeded: r.Has(observation.FlagAttackSucceeded), Sensitive: r.Sensitive,
		Login: LoginOutcome{Kind: r.LoginKind, User: r.LoginUser, OK: r.Has(observation.FlagLoginOK), Session: r.LoginSession, Form: r.LoginForm, Answer: r.LoginAnswer}}
}

// Central runs the behaviour detectors over records (it implements
// correlate.Detectors): one per partition of apitap correlate, fed in
// capture order. Records carry pseudonyms, which it keeps as they are.
type Central struct {
	a *Analyzer
}

// NewCentral returns the detectors of cfg for apitap correlate.
func NewCentral(cfg *Config, sensor string) (*Central, error) {
	t, err := OpenTracker(cfg, sensor)
	if err != nil {
		return nil, err
	}
	t.central = true
	return &Central{a: t.NewAnalyzer()}, nil
}

// Observe runs the detectors on one record.
func (c *Central) Observe(r *observation.Record, emit analyzer.Emitter) {
	a := c.a
	o := &a.obs
	fromRecord(r, o)
	a.epState = a.t.endpoint(o.Endpoint)
	a.out, a.abuse, a.epSet = a.out[:0], 0, false
	a.t.mu.Lock()
	a.process(o)
	a.t.mu.Unlock()
	for i := range a.out {
		emit.Detection(&a.out[i])
	}
}

// Flush detects what waited for capture time to pass.
func (c *Central) Flush(now time.Time, emit analyzer.Emitter) { c.a.Flush(now, emit) }

// Tracker is the central detectors' actor table.
func (c *Central) Tracker() *Tracker { return c.a.t }
