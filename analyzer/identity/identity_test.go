package identity

import (
	"net/netip"
	"testing"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

func TestClient(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, src string
		hdrs      [][2]string
		want      string
	}{
		{"no proxy", "198.51.100.9", [][2]string{{"X-Forwarded-For", "203.0.113.7"}}, "198.51.100.9"},
		{"proxy, xff", "10.1.2.3", [][2]string{{"X-Forwarded-For", "203.0.113.7"}}, "203.0.113.7"},
		{"right-most untrusted", "10.1.2.3", [][2]string{{"X-Forwarded-For", "1.2.3.4, 203.0.113.7, 10.9.9.9"}}, "203.0.113.7"},
		{"repeated headers", "10.1.2.3", [][2]string{{"X-Forwarded-For", "1.2.3.4"}, {"X-Forwarded-For", "203.0.113.8"}}, "203.0.113.8"},
		{"forwarded", "192.0.2.1", [][2]string{{"Forwarded", `for="[2001:db8::7]:4711";proto=https`}}, "2001:db8::7"},
		{"real ip", "10.1.2.3", [][2]string{{"X-Real-IP", "203.0.113.9"}}, "203.0.113.9"},
		{"zone dropped", "10.1.2.3", [][2]string{{"X-Forwarded-For", "fe80::1%eth0"}}, "fe80::1"},
		{"hostile zone rejected", "10.1.2.3", [][2]string{{"X-Forwarded-For", "fe80::1%x;allow all"}}, "fe80::1"},
		{"garbage keeps the source", "10.1.2.3", [][2]string{{"X-Forwarded-For", "not-an-ip"}}, "10.1.2.3"},
		{"mapped", "10.1.2.3", [][2]string{{"X-Forwarded-For", "::ffff:203.0.113.7"}}, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &http1.Request{Method: "GET", Path: "/"}
			for _, h := range tc.hdrs {
				req.Headers = append(req.Headers, http1.Header{Name: h[0], Value: h[1]})
			}
			tx := &reassembly.Transaction{Flow: reassembly.Flow{Client: netip.AddrPortFrom(netip.MustParseAddr(tc.src), 40000)}}
			tx.Request = req
			if got := r.Client(tx).String(); got != tc.want {
				t.Fatalf("client %s, want %s", got, tc.want)
			}
		})
	}
}
