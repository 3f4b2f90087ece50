package behavior

import (
	"net/netip"

	"github.com/apitap/apitap/reassembly"
)

// Observation is everything the behaviour detectors read of one
// transaction: who sent it (identity keys and the client software), what
// it asked (the endpoint as a template hash, the object), how it was
// answered (status, sizes, latency, the login outcome) and what stage one
// found in it (attack and sensitive-data verdicts). It is built once per
// transaction by Analyzer.observe and consumed by the detectors, which
// never look at the transaction itself; a cross-sensor correlator can
// build the same struct from a compact record of another sensor.
//
// Strings point into the transaction (they may be kept); raw credentials
// (User, APIKey, Session, Login.User) are hashed or redacted before
// anything leaves the sensor.
type Observation struct {
	At        int64      // capture time of the request, Unix nanoseconds
	Client    netip.Addr // resolved through trusted proxies
	ClientKey uint64     // hash of Client (its address actor's key)
	Peer      netip.Addr // the proxy the client was resolved through (invalid if none)

	// who
	User    string // JWT sub (or client_id), Basic user
	Service bool   // User comes from a client-credentials token: a service account
	Basic   bool   // User comes from HTTP Basic credentials
	APIKey  string // API key header or opaque bearer token
	Session string // session cookie value
	Print   uint64 // HTTP fingerprint: header names, order and casing, User-Agent family
	Shape   uint64 // header names, order and casing only (the tool under a rotated User-Agent)
	Agent   agent
	UA      string
	Spoofed bool // a browser User-Agent without the headers browsers send
	Crawler int8 // the configured crawler the User-Agent claims to be, -1 none
	Checked bool // the claimed crawler's address is in its published ranges
	Health  bool // a health check: checker software from an internal address, or a health path

	// what
	Host, Method, Path string // for detections (the template is made when one is)
	Endpoint           uint64 // host, method and path template
	Object             uint64 // the last parameter segment of the path (an object id), 0 if none
	ObjectID           string // that segment (its decimal value is read only when a walk needs it: objectNum)
	Priv               bool   // an administrative path segment

	// the answer
	Status             int
	ReqBytes, RespSize int64   // body bytes on the wire
	Latency            float64 // seconds from the end of the request to the start of the answer
	Owner              uint64  // owner field (user_id, owner_id...) of a JSON answer, 0 if none or not read
	MassAssigned       string  // a server-owned property the write set and the answer echoed

	// stage one's verdicts
	Attacks         uint32 // attack classes (vocab.AttackClasses bits)
	AttackSucceeded bool
	Sensitive       uint64 // sensitive types in the answer (vocab.SensitiveTypes bits)

	Login LoginOutcome
	// Ops is how many operations the request carried: 1, or a GraphQL
	// batch's operations and aliased repeats (Notes.GraphQL); the rate
	// detector counts these. Logins are a GraphQL request's login
	// attempts (batch elements and aliases, each with its outcome), each
	// counted like a login request.
	Ops    int
	Logins []reassembly.GraphQLLogin
}

// LoginOutcome is what a login or account endpoint was asked and answered.
type LoginOutcome struct {
	Kind    uint8  // lkNone, lkAttempt, lkProbe
	User    string // the username tried (lower case, raw)
	OK      bool   // the login succeeded
	Session string // the session cookie a successful login set
	Form    uint64 // the request body's field names, in order (the tool's template)
	Answer  uint64 // the class of the answer (status and body shape, the username removed); failures and probes only
}

// Login kinds.
const (
	lkNone    = iota
	lkAttempt // a login with a password
	lkProbe   // an account endpoint asked about a username (reset, availability)
)

// ok2xx says the request was answered with success.
func (o *Observation) ok2xx() bool { return o.Status >= 200 && o.Status < 300 }

// observe builds the observation of tx (false when there is nothing to
// observe: no request, no capture time).
func (a *Analyzer) observe(tx *reassembly.Transaction, o *Observation) bool {
	req := tx.Request
	if req == nil || req.Start.IsZero() {
		return false
	}
	// every field is set (no clearing of the whole struct first: it is
	// large, and this runs on every transaction)
	id := &a.id
	a.res.resolve(tx, id)
	o.At, o.Host, o.Method, o.Path = req.Start.UnixNano(), req.Host, req.Method, req.Path
	o.Attacks, o.AttackSucceeded = tx.Notes.Attacks, tx.Notes.AttackSucceeded
	o.Client, o.ClientKey, o.Peer = id.ip, addrKey(id.ip), tx.PeerAddr()
	o.User, o.Service, o.Basic, o.APIKey, o.Session = id.user, id.service, id.basic, id.apiKey, id.session
	o.Print, o.Shape, o.Agent, o.UA, o.Spoofed = id.fp, id.shape, id.agent, id.ua, id.spoofed
	o.Crawler, o.Checked = -1, false
	if id.crawler >= 0 {
		if a.crawlerIP != id.ip || a.crawlerIdx != id.crawler { // crawlers come back from the same address
			a.crawlerIP, a.crawlerIdx, a.crawlerOK = id.ip, id.crawler, a.t.verified(int(id.crawler), id.ip)
		}
		o.Crawler, o.Checked = id.crawler, a.crawlerOK
	}
	o.Health = id.agent == agentChecker && (internalAddr(id.ip) || healthPath(req.Path)) ||
		id.user == "" && id.apiKey == "" && (req.Method == "GET" || req.Method == "HEAD") && internalAddr(id.ip) && healthPath(req.Path)
	o.Status, o.RespSize, o.Latency, o.Sensitive = 0, 0, 0, 0
	resp := tx.Response
	if resp != nil {
		o.Status = resp.Status
		o.RespSize = resp.Body.WireBytes
		if !resp.Start.IsZero() && !req.End.IsZero() {
			o.Latency = latency(resp.Start, req.End)
		}
		o.Sensitive = tx.Notes.SensitiveResponse | tx.Notes.SensitiveInferred // with the estimate for responses outside the sample
	}
	o.ReqBytes = req.Body.WireBytes
	o.Object, o.ObjectID, o.Owner, o.MassAssigned = 0, "", 0, ""
	o.Login = LoginOutcome{}
	o.Ops, o.Logins = 1, nil
	if g := tx.Notes.GraphQL; g != nil {
		o.Ops, o.Logins = max(g.Operations, 1), g.Logins
	}
	tpl, idSeg, priv, flags := a.paths.info(req.Path)
	o.Endpoint = tpl ^ keyOfLower(kUser, req.Host) ^ keyOf(kIP, req.Method)
	o.Priv = priv
	if idSeg != "" {
		o.Object, o.ObjectID = keyOf(kSession, idSeg), idSeg
	}
	a.epState = a.t.endpoint(o.Endpoint)
	principal := o.User != "" || o.APIKey != "" || o.Session != ""
	if principal && o.Object != 0 && o.ok2xx() && resp != nil && a.epState.wantsOwner() {
		if ow := ownerOf(resp.Body.Bytes()); ow != nil {
			o.Owner = keyOf(kUser, string(ow))
		}
		a.epState.sawOwner(o.Owner != 0)
	}
	if principal && o.ok2xx() && resp != nil && (req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH") {
		if in := serverOwnedSet(req.Body.Bytes()); in != 0 { // the answer is decoded only for such writes
			o.MassAssigned = echoedOwned(in, resp.Body.Bytes())
		}
	}
	switch req.Method {
	case "POST":
		if flags&lastLogin != 0 || len(a.t.cfg.LoginPaths) > 0 {
			tplStr := ""
			if len(a.t.cfg.LoginPaths) > 0 {
				tplStr = a.template(req.Path)
			}
			if la, ok := a.res.parseLogin(tx, tplStr); ok {
				o.Login = LoginOutcome{Kind: lkAttempt, User: la.user, OK: la.success, Session: la.session, Form: la.form}
				if !la.success { // what a failure says tells known from unknown users
					o.Login.Answer = respClass(la.resp.status, la.resp.body, la.user)
				}
				break
			}
		}
		if flags&lastProbe != 0 {
			if u := a.res.accountProbe(tx); u != "" {
				o.Login = a.probeOutcome(u, tx)
			}
		}
	case "GET":
		if flags&lastProbe != 0 {
			if u := a.res.accountProbe(tx); u != "" {
				o.Login = a.probeOutcome(u, tx)
			}
		}
	}
	return true
}

func (a *Analyzer) probeOutcome(user string, tx *reassembly.Transaction) LoginOutcome {
	lo := LoginOutcome{Kind: lkProbe, User: user}
	if r := tx.Response; r != nil {
		lo.Answer = respClass(r.Status, r.Body.Bytes(), user)
	} else {
		lo.Answer = respClass(0, nil, user)
	}
	return lo
}

// objectNum is the object id's decimal value (false when it is not a
// number of at most 18 digits).
func (o *Observation) objectNum() (int64, bool) { return parseID(o.ObjectID) }

// parseID reads a decimal object id (at most 18 digits).
func parseID(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}
