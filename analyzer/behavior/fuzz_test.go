package behavior

import (
	"net/netip"
	"testing"
	"time"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// FuzzAnalyze feeds hostile header values, paths and bodies through
// identity resolution, login parsing and every detector: no panic, and
// the table stays bounded.
func FuzzAnalyze(f *testing.F) {
	f.Add("Bearer "+jwt("u1"), "sid=abc", "10.0.0.1, 1.2.3.4", "/v1/login", `{"username":"a","password":"b"}`, `{"user_id":1}`, 401)
	f.Add("Basic !!!", "", `for="[::1]:1";for=bad`, "/v1/orders/123", "x=%zz", `{"owner": "`, 200)
	f.Add("Bearer a.b.c", "session=", ",,,", "//a/../b;c=d/1", "\x00\xff", "{", 302)
	cfg := NewConfig()
	cfg.TrustedProxies = []string{"0.0.0.0/0", "::/0"}
	cfg.MaxActors = 100
	tr := NewTracker(cfg, "f")
	w := tr.NewAnalyzer()
	var c collector
	n := 0
	f.Fuzz(func(t *testing.T, auth, cookie, xff, path, body, resp string, status int) {
		n++
		tx := &reassembly.Transaction{Flow: reassembly.Flow{Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)}), 1)}}
		start := t0.Add(time.Duration(n) * time.Second)
		tx.Request = &http1.Request{Method: "POST", Path: path, Host: "h", Start: start, Body: http1.Body{Data: []byte(body)},
			Headers: []http1.Header{{Name: "Authorization", Value: auth}, {Name: "Cookie", Value: cookie}, {Name: "X-Forwarded-For", Value: xff}, {Name: "Forwarded", Value: xff}, {Name: "User-Agent", Value: auth}}}
		tx.Response = &http1.Response{Status: status, Body: http1.Body{Data: []byte(resp)}, Headers: []http1.Header{{Name: "Set-Cookie", Value: cookie}}}
		tx.Notes.SensitiveResponse = uint64(status)
		w.Analyze(tx, &c)
		c.Detections = c.Detections[:0]
		if tr.Len() > cfg.MaxActors {
			t.Fatalf("%d actors held", tr.Len())
		}
	})
}
