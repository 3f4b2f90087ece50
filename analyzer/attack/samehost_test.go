package attack

import (
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
)

// TestSSRFSameHost: an internal application's own pages send a same-site
// Referer with its internal name; that is not a request to fetch another
// internal host. An internal name of another host still is.
func TestSSRFSameHost(t *testing.T) {
	w := newWorker(newTestState(t))
	for _, c := range []struct {
		host, query, referer string
		want                 bool
	}{
		{"backoffice.internal", "", "https://backoffice.internal/", false},
		{"backoffice.internal:8443", "", "https://backoffice.internal/invoices", false},
		{"api.example", "url=http%3A%2F%2Fpayments.internal%2Fadmin", "", true},
		{"backoffice.internal", "url=http%3A%2F%2Fvault.internal%2Fv1%2Fsecret", "https://backoffice.internal/", true},
	} {
		var hs []http1.Header
		if c.referer != "" {
			hs = append(hs, http1.Header{Name: "Referer", Value: c.referer})
		}
		tx := mk("GET", "/admin/api/invoices", c.query, hs, "", "")
		tx.Request.Host = c.host
		var col collector
		w.Analyze(tx, &col)
		got := false
		for _, d := range col.Detections {
			got = got || d.Class == "ssrf"
		}
		if got != c.want {
			t.Errorf("host %s query %q referer %q: ssrf %v, want %v (%+v)", c.host, c.query, c.referer, got, c.want, col.Detections)
		}
	}
}
