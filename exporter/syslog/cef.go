package syslog

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/apitap/apitap/exporter/ocsf"
)

// CEF (ArcSight Common Event Format, revision 25) of apitap's detection
// and blocklist events: a header of pipe-separated fields and extensions
// keyed by the ArcSight dictionary (README.md has the table).

type cefDetection struct {
	ID         string    `json:"id"`
	Sensor     string    `json:"sensor"`
	Class      string    `json:"class"`
	Confirmed  bool      `json:"confirmed"`
	Severity   string    `json:"severity"`
	Confidence float64   `json:"confidence"`
	Time       time.Time `json:"time"`
	Actor      struct {
		IP, Peer, User, Session, Fingerprint string
	} `json:"actor"`
	Endpoint struct {
		Host, Method, Path string
	} `json:"endpoint"`
	Evidence []struct {
		Location, Name, Value, Rule string
	} `json:"evidence"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Count     int       `json:"count"`
	Action    string    `json:"action"`
	Succeeded string    `json:"succeeded"`
}

type cefBlocklist struct {
	Key    string    `json:"key"`
	Sensor string    `json:"sensor"`
	Time   time.Time `json:"time"`
	Actor  struct {
		Type, Value string
	} `json:"actor"`
	Action       string    `json:"action"`
	Reason       string    `json:"reason"`
	DetectionIDs []string  `json:"detection_ids"`
	TTL          int       `json:"ttl_seconds"`
	ExpiresAt    time.Time `json:"expires_at"`
	Revoked      bool      `json:"revoked"`
}

// cefSeverity is CEF's 0-10 scale for apitap's severities.
var cefSeverity = map[string]int{"info": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}

// appendCEF appends the CEF line of an event.
func appendCEF(dst []byte, typ string, value []byte, version string) ([]byte, error) {
	var sig, name string
	var sev int
	var ext [][2]string
	switch typ {
	case "detection":
		var d cefDetection
		if err := json.Unmarshal(value, &d); err != nil {
			return dst, err
		}
		sig, name, sev = d.Class, ocsf.Title(d.Class), cefSeverity[d.Severity]
		rule := ""
		if len(d.Evidence) > 0 {
			rule = d.Evidence[0].Rule
			if d.Class == "cve" && rule != "" {
				sig = "cve:" + rule
			}
		}
		ext = append(ext, [2]string{"rt", ms(d.Time)}, [2]string{"start", ms(d.FirstSeen)}, [2]string{"end", ms(d.LastSeen)},
			[2]string{"cnt", strconv.Itoa(max(d.Count, 1))}, [2]string{"cat", d.Class}, [2]string{"act", d.Action},
			[2]string{"externalId", d.ID}, [2]string{"dvchost", d.Sensor})
		ext = appendAddr(ext, "src", "c6a2", d.Actor.IP)
		ext = append(ext, [2]string{"suser", d.Actor.User})
		if d.Endpoint.Host != "" || d.Endpoint.Path != "" {
			ext = append(ext, [2]string{"dhost", d.Endpoint.Host}, [2]string{"requestMethod", d.Endpoint.Method},
				[2]string{"request", "http://" + d.Endpoint.Host + d.Endpoint.Path})
		}
		var evs []string
		for _, e := range d.Evidence {
			evs = append(evs, strings.TrimSuffix(e.Location+":"+e.Name+"="+e.Value, "="))
		}
		ext = custom(ext, "cfp1", "confidence", strconv.FormatFloat(d.Confidence, 'f', -1, 64))
		ext = custom(ext, "cs1", "rule", rule)
		ext = custom(ext, "cs2", "evidence", strings.Join(evs, "; "))
		ext = custom(ext, "cs3", "session", d.Actor.Session)
		ext = custom(ext, "cs4", "fingerprint", d.Actor.Fingerprint)
		ext = custom(ext, "cs5", "confirmed", strconv.FormatBool(d.Confirmed))
		ext = custom(ext, "cs6", "succeeded", d.Succeeded)
		ext = appendAddr(ext, "dvc", "c6a1", d.Actor.Peer)
	case "blocklist":
		var b cefBlocklist
		if err := json.Unmarshal(value, &b); err != nil {
			return dst, err
		}
		act := b.Action
		if b.Revoked {
			act = "revoke"
		}
		sig, name = "blocklist", "Blocklist entry: "+act
		sev = map[string]int{"block": 8, "rate_limit": 5, "deceive": 5, "would_block": 3, "revoke": 1}[act]
		ext = append(ext, [2]string{"rt", ms(b.Time)}, [2]string{"end", ms(b.ExpiresAt)}, [2]string{"act", act},
			[2]string{"reason", b.Reason}, [2]string{"externalId", b.Key}, [2]string{"dvchost", b.Sensor})
		switch b.Actor.Type {
		case "ip":
			ext = appendAddr(ext, "src", "c6a2", b.Actor.Value)
		case "cidr":
			ext = custom(ext, "cs3", "network", b.Actor.Value)
		case "user":
			ext = append(ext, [2]string{"suser", b.Actor.Value})
		default:
			ext = custom(ext, "cs3", "actor", b.Actor.Type+":"+b.Actor.Value)
		}
		ext = custom(ext, "cs1", "detection_ids", strings.Join(b.DetectionIDs, ","))
		ext = custom(ext, "cn1", "ttl_seconds", strconv.Itoa(b.TTL))
	default:
		return dst, fmt.Errorf("cef: no mapping for %s events", typ)
	}
	dst = append(dst, "CEF:0|apitap|apitap|"...)
	dst = appendHeader(dst, version)
	dst = append(dst, '|')
	dst = appendHeader(dst, sig)
	dst = append(dst, '|')
	dst = appendHeader(dst, name)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(sev), 10)
	dst = append(dst, '|')
	first := true
	for _, kv := range ext {
		if kv[1] == "" {
			continue
		}
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		dst = append(dst, kv[0]...)
		dst = append(dst, '=')
		dst = appendExtValue(dst, kv[1])
	}
	return dst, nil
}

// custom adds a custom extension (csN, cnN, cfpN) with its label, when it
// has a value.
func custom(ext [][2]string, key, label, v string) [][2]string {
	if v == "" {
		return ext
	}
	return append(ext, [2]string{key, v}, [2]string{key + "Label", label})
}

func ms(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// appendAddr adds an address under the IPv4 key or the IPv6 one.
func appendAddr(ext [][2]string, v4, v6, ip string) [][2]string {
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ext
	case a.Is4() || a.Is4In6():
		return append(ext, [2]string{v4, a.Unmap().String()})
	default:
		return append(ext, [2]string{v6, a.String()})
	}
}

// appendHeader escapes a header field: backslash and pipe; line breaks
// become spaces (a header is one line).
func appendHeader(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '|':
			dst = append(dst, '\\', c)
		case '\r', '\n':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendExtValue escapes an extension value: backslash, equals sign, and
// line breaks as \n and \r.
func appendExtValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '=':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
