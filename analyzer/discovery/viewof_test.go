package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/apitap/apitap/reassembly/http1"
)

// TestViewOf: a catalog's entries read back (as endpoint events cross
// Kafka: JSON) make a view whose OpenAPI document, JSON entries and host
// summaries equal the live catalog's.
func TestViewOf(t *testing.T) {
	cat := NewCatalog(NewConfig(), "t")
	o := cat.Observer()
	for i := 0; i < 30; i++ {
		o.Analyze(tx("GET", "api", fmt.Sprintf("/v1/users/%d", 100+i), 200), nil)
		o.Analyze(tx("GET", "api", fmt.Sprintf("/v1/users/%d/orders/5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f%02d", 100+i, i), 200), nil)
		o.Analyze(tx("DELETE", "api", fmt.Sprintf("/v1/users/%d", 100+i), 204), nil)
		o.Analyze(tx("GET", "shop", "/healthz", 200), nil)
		x := tx("POST", "api", fmt.Sprintf("/orders?limit=%d&email=jane%d@example.com", i, i), 201)
		x.Request.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json"}}
		x.Request.Body.Data = []byte(fmt.Sprintf(`{"sku":"A-%d","qty":%d}`, i, i))
		x.Response.Headers = []http1.Header{{Name: "Content-Type", Value: "application/json"}}
		x.Response.Body.Data = []byte(`{"id":"5f0c9a1e-3b2d-4c8e-9f1a-2b3c4d5e6f70"}`)
		o.Analyze(x, nil)
	}
	live := cat.View()
	var entries []*EndpointJSON
	for i := len(live.Endpoints) - 1; i >= 0; i-- { // any order
		b, err := json.Marshal(live.Endpoints[i].JSON(live.Time))
		if err != nil {
			t.Fatal(err)
		}
		var j EndpointJSON
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, &j)
	}
	v := ViewOf(entries, live.Time)
	if len(v.Endpoints) != len(live.Endpoints) || len(v.Hosts) != len(live.Hosts) {
		t.Fatalf("%d endpoints on %d hosts, want %d on %d", len(v.Endpoints), len(v.Hosts), len(live.Endpoints), len(live.Hosts))
	}
	for i, h := range live.Hosts {
		if g := v.Hosts[i]; g.Host != h.Host || g.Endpoints != h.Endpoints {
			t.Errorf("host %d: %+v, want %+v", i, g, h)
		}
	}
	byID := map[string]*Endpoint{}
	for _, ep := range live.Endpoints {
		byID[ep.ID] = ep
	}
	for _, ep := range v.Endpoints {
		w := byID[ep.ID]
		if w == nil {
			t.Fatalf("endpoint %s not in the live catalog", ep.ID)
		}
		a, _ := json.Marshal(ep.JSON(v.Time))
		b, _ := json.Marshal(w.JSON(live.Time))
		if !bytes.Equal(a, b) {
			t.Errorf("entry %s:\n got %s\nwant %s", ep.ID, a, b)
		}
		if ep.Calls() != w.Calls() || ep.Probes() != w.Probes() || len(ep.PathParams) != len(w.PathParams) {
			t.Errorf("%s: calls %d probes %d params %v, want %d %d %v", ep.ID, ep.Calls(), ep.Probes(), ep.PathParams, w.Calls(), w.Probes(), w.PathParams)
		}
		s1, c1, f1, l1 := ep.ConformanceStatus()
		s2, c2, f2, l2 := w.ConformanceStatus()
		if s1 != s2 || c1 != c2 || !f1.Equal(f2) || !l1.Equal(l2) {
			t.Errorf("%s: conformance %s %d %v %v, want %s %d %v %v", ep.ID, s1, c1, f1, l1, s2, c2, f2, l2)
		}
	}
	for _, js := range []bool{false, true} {
		a, err := v.OpenAPI(OpenAPIOptions{JSON: js})
		if err != nil {
			t.Fatal(err)
		}
		b, err := live.OpenAPI(OpenAPIOptions{JSON: js})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("OpenAPI (json %v) differs:\n got %s\nwant %s", js, a, b)
		}
	}
}
