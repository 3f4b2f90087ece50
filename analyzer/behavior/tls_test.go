package behavior

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testutil/tlshellotest"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
	"github.com/apitap/apitap/reassembly/tlshello"
)

// TestTLSLinks: the JA4 and server name of an address's TLS connections
// join the identities of its actor, which clear-text abuse then reports.
func TestTLSLinks(t *testing.T) {
	h, err := tlshello.Parse(tlshellotest.GoClientHello(t, "login.shop.example"))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(NewConfig(), "t")
	w := tr.NewAnalyzer()
	flow := &reassembly.Flow{Client: netip.MustParseAddrPort("203.0.113.77:50000"), Server: netip.MustParseAddrPort("10.0.0.1:443")}
	w.TLSHello(flow, t0, h)
	var c collector
	for k := 0; k < 12; k++ { // then stuffing in clear text from the same address
		w.Analyze(loginReq(time.Duration(k)*time.Second, "203.0.113.77", "v"+string(rune('a'+k))+"@x.example", false,
			[]http1.Header{{Name: "User-Agent", Value: "curl/8"}}).tx(), &c)
	}
	top := tr.Top(5, t0.Add(time.Minute))
	if len(top) == 0 || top[0].Name() != "ip:203.0.113.77" {
		t.Fatalf("top actors: %+v", top)
	}
	a := top[0]
	if !slices.Contains(a.SNIs, "login.shop.example") || !slices.ContainsFunc(a.Prints, func(p string) bool { return p == "ja4:"+h.JA4() }) {
		t.Errorf("identities: prints %v, server names %v", a.Prints, a.SNIs)
	}
	j := string(encodeActor(&a, "t", t0))
	for _, want := range []string{`{"type":"sni","value":"login.shop.example"}`, `"value":"ja4:t13d`} {
		if !strings.Contains(j, want) {
			t.Errorf("actor event lacks %s:\n%s", want, j)
		}
	}
}
