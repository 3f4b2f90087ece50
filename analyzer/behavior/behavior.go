package behavior

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/analyzer/vocab"
)

// Name is the analyzer's name and configuration section.
const Name = "behavior"

// ClassNames name the bits of reassembly.Notes.Abuse (package vocab): one
// per class (the kinds of bola after cBOLA share cBOLA's bit, see
// abuseBit).
var ClassNames = vocab.AbuseClasses

func init() {
	for i, n := range classNames[:cBOLAOwner] {
		if ClassNames[i] != n {
			panic("behavior: classNames and vocab.AbuseClasses disagree at " + n)
		}
	}
	analyzer.Register(analyzer.Descriptor{
		Name:      Name,
		Stage:     analyzer.StageOrdered, // actors span flows and workers
		After:     []string{"sensitive", "attack"},
		Provides:  []string{"Notes.Abuse"},
		Default:   true,
		NewConfig: func() any { return NewConfig() },
		NewShared: func(cfg any, env analyzer.Env) (any, error) { return OpenTracker(cfg.(*Config), env.Sensor) },
		New: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			t, ok := env.Shared.(*Tracker)
			if !ok {
				return nil, errors.New("behavior: no shared tracker")
			}
			return t.NewAnalyzer(), nil
		},
	})
}

// allowlist holds the actors never flagged.
type allowlist struct {
	nets  []netip.Prefix
	users map[string]bool
	uas   []string
}

func newAllowlist(entries []string) allowlist {
	a := allowlist{users: map[string]bool{}}
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e, "user:"):
			a.users[strings.ToLower(e[5:])] = true
		case strings.HasPrefix(e, "ua:"):
			a.uas = append(a.uas, strings.ToLower(e[3:]))
		default:
			if p, err := parsePrefix(e); err == nil {
				a.nets = append(a.nets, p)
			}
		}
	}
	return a
}

func validAllowEntry(e string) error {
	if strings.HasPrefix(e, "user:") || strings.HasPrefix(e, "ua:") {
		if len(e) <= strings.IndexByte(e, ':')+1 {
			return fmt.Errorf("allowlist: %q is empty after the prefix", e)
		}
		return nil
	}
	if _, err := parsePrefix(e); err != nil {
		return fmt.Errorf("allowlist: %q is neither an address, a CIDR, user:NAME nor ua:TEXT", e)
	}
	return nil
}

// match says whether the request's address is allowed (trusted: not
// followed at all) or its user or User-Agent is (claimed by the client, so
// only the detectors of one actor's volume and shape are off; logins are
// still counted, so a stuffing tool calling itself Googlebot is caught).
func (a *allowlist) match(ip netip.Addr, user, ua string) (trusted, claimed bool) {
	for _, p := range a.nets {
		if p.Contains(ip) {
			return true, false
		}
	}
	if len(a.users) > 0 && user != "" && a.users[strings.ToLower(user)] {
		return false, true
	}
	if len(a.uas) > 0 && ua != "" {
		ascii := true
		for i := 0; i < len(ua) && ascii; i++ {
			ascii = ua[i] < 0x80
		}
		low := ua
		if !ascii {
			low = strings.ToLower(ua) // rare: no allocation for ASCII agents
		}
		for _, u := range a.uas {
			if ascii && containsLowerASCII(low, u) || !ascii && strings.Contains(low, u) {
				return false, true
			}
		}
	}
	return false, false
}

// containsLowerASCII reports whether the ASCII string s contains sub (lower
// case) ignoring the case of s, as strings.Contains(strings.ToLower(s), sub)
// would, without building the lower-case copy.
func containsLowerASCII(s, sub string) bool {
	if sub == "" {
		return true
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}
