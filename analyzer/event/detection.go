package event

import (
	"strconv"
	"time"

	"github.com/apitap/apitap/reassembly"
)

// Severity levels of detections, lowest first.
var Severities = []string{"info", "low", "medium", "high", "critical"}

// Actor identifies who a detection is about. Empty fields are omitted.
// APIKey must already be redacted or hashed by the analyzer. IP is the
// client: the packet source, or the address a trusted proxy forwarded for
// it (X-Forwarded-For, Forwarded, X-Real-IP); Peer is the packet source
// when it differs from IP (the proxy), empty otherwise.
type Actor struct {
	IP, User, Session, APIKey, Fingerprint string
	Peer                                   string
}

// Key is the Kafka key of the actor's events: "<type>:<value>" of its
// most specific identity, so that one actor's events stay in one
// partition ("unknown" for endpoint-level detections).
func (a *Actor) Key() string {
	switch {
	case a.User != "":
		return "user:" + a.User
	case a.APIKey != "":
		return "api_key:" + a.APIKey
	case a.Session != "":
		return "session:" + a.Session
	case a.IP != "":
		return "ip:" + a.IP
	case a.Fingerprint != "": // shared by every client of one kind: last
		return "fingerprint:" + a.Fingerprint
	}
	return "unknown"
}

// ClientActor is the actor of a transaction's client: the resolved client
// address and, when it came through a trusted proxy, the proxy as peer.
func ClientActor(tx *reassembly.Transaction) Actor {
	a := Actor{IP: tx.ClientAddr().String()}
	if p := tx.PeerAddr(); p.IsValid() {
		a.Peer = p.String()
	}
	return a
}

// Endpoint is the API operation a detection concerns.
type Endpoint struct {
	Host, Method, Path string
}

// Evidence is one observation behind a detection. Value must be redacted
// (see package redact) by the analyzer that fills it.
type Evidence struct {
	Location string // query, path, header, cookie, body, response_body, response_header
	Name     string
	Value    string
	Rule     string
	// Hash is a keyed hash of the raw value ("hmac-sha256:..."), for
	// correlating detections about one value; "" without a key.
	Hash string
}

// Detection is an analyzer's decision (CONTRACT.md).
type Detection struct {
	ID         string // deterministic hash chosen by the analyzer
	Class      string
	Severity   string
	Confidence float64
	Actor      Actor
	Endpoint   Endpoint
	Evidence   []Evidence
	FirstSeen  time.Time
	LastSeen   time.Time
	Count      int
	Action     string // log, rate_limit, block, deceive
	// Succeeded is "likely" when the response shows the attack worked
	// (an SQL error, file contents, a reflected payload); "" otherwise.
	Succeeded string
	// Confirmed says the flow behind the detection had a completed
	// handshake and at least one server response (a flow joined
	// mid-stream: once the server answered the client). Detections on
	// unconfirmed flows (possibly spoofed sources) are reported but never
	// become enforcement entries.
	Confirmed bool
	// Central marks a detection of `apitap correlate` (the cross-flow
	// detectors run over the observations of many sensors).
	Central bool
}

// AppendDetection appends one detection event line; its time is LastSeen.
func (e *Encoder) AppendDetection(dst []byte, d *Detection) []byte {
	dst = e.envelope(dst, "detection", d.LastSeen)
	dst = append(dst, `,"id":`...)
	dst = AppendString(dst, d.ID)
	dst = append(dst, `,"class":`...)
	dst = AppendString(dst, d.Class)
	dst = append(dst, `,"confirmed":`...)
	dst = strconv.AppendBool(dst, d.Confirmed)
	if d.Central {
		dst = append(dst, `,"central":true`...)
	}
	dst = append(dst, `,"severity":`...)
	dst = AppendString(dst, d.Severity)
	dst = append(dst, `,"confidence":`...)
	dst = strconv.AppendFloat(dst, min(max(d.Confidence, 0), 1), 'f', -1, 64)
	dst = append(dst, `,"actor":{`...)
	n := 0
	for _, f := range [...]struct{ k, v string }{{"ip", d.Actor.IP}, {"peer", d.Actor.Peer}, {"user", d.Actor.User}, {"session", d.Actor.Session}, {"api_key", d.Actor.APIKey}, {"fingerprint", d.Actor.Fingerprint}} {
		if f.v == "" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = AppendString(dst, f.k)
		dst = append(dst, ':')
		dst = AppendString(dst, f.v)
	}
	dst = append(dst, '}')
	if d.Endpoint != (Endpoint{}) {
		dst = append(dst, `,"endpoint":{"host":`...)
		dst = AppendString(dst, d.Endpoint.Host)
		dst = append(dst, `,"method":`...)
		dst = AppendString(dst, d.Endpoint.Method)
		dst = append(dst, `,"path":`...)
		dst = AppendString(dst, d.Endpoint.Path)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"evidence":[`...)
	for i, ev := range d.Evidence {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"location":`...)
		dst = AppendString(dst, ev.Location)
		if ev.Name != "" {
			dst = append(dst, `,"name":`...)
			dst = AppendString(dst, ev.Name)
		}
		if ev.Value != "" {
			dst = append(dst, `,"value":`...)
			dst = AppendString(dst, ev.Value)
		}
		if ev.Rule != "" {
			dst = append(dst, `,"rule":`...)
			dst = AppendString(dst, ev.Rule)
		}
		if ev.Hash != "" {
			dst = append(dst, `,"hash":`...)
			dst = AppendString(dst, ev.Hash)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"first_seen":"`...)
	dst = d.FirstSeen.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","last_seen":"`...)
	dst = d.LastSeen.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","count":`...)
	dst = strconv.AppendInt(dst, int64(max(d.Count, 1)), 10)
	dst = append(dst, `,"action":`...)
	action := d.Action
	if action == "" {
		action = "log"
	}
	dst = AppendString(dst, action)
	if d.Succeeded != "" {
		dst = append(dst, `,"succeeded":`...)
		dst = AppendString(dst, d.Succeeded)
	}
	return append(dst, "}\n"...)
}
