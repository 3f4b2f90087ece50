package discovery

import (
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// floodWords name the children of each position of the structured flood:
// seven per parent, different under each parent, so nothing folds (seven is
// below fold_min_distinct).
func floodSeg(level, parent, i int) string {
	code := []byte{byte('a' + level), byte('a' + parent%26), byte('a' + parent/26%26)}
	return []string{"alpha", "bravo", "carbon", "delta", "echo", "fox", "gamma"}[i] + "-" + string(code)
}

// Flood calls fn with the transactions of a structured-path flood: a
// 7-ary tree of four levels (2401 paths) on each of hosts hosts, every
// path called once with ordinary headers and a small JSON answer.
func Flood(hosts int, fn func(tx *reassembly.Transaction)) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":1,"name":"x","tags":["a"],"ok":true}`)
	n := 0
	for h := 0; h < hosts; h++ {
		host := "svc" + strconv.Itoa(h) + ".flood.example"
		for a := 0; a < 7; a++ {
			for b := 0; b < 7; b++ {
				for c := 0; c < 7; c++ {
					for d := 0; d < 7; d++ {
						n++
						path := "/" + floodSeg(0, h, a) + "/" + floodSeg(1, a, b) + "/" + floodSeg(2, a*7+b, c) + "/" + floodSeg(3, (a*7+b)*7+c, d)
						t := at.Add(time.Duration(n) * time.Millisecond)
						req := &http1.Request{Method: "GET", Host: host, Path: path, Target: path, Start: t, End: t, HeadSize: 200,
							Headers: []http1.Header{{Name: "Host", Value: host}, {Name: "User-Agent", Value: "flood/1", ID: http1.LookupHeader("User-Agent")},
								{Name: "Accept", Value: "application/json", ID: http1.LookupHeader("Accept")}}}
						resp := &http1.Response{Status: 200, Start: t.Add(time.Millisecond), End: t.Add(time.Millisecond), HeadSize: 100,
							Headers: []http1.Header{{Name: "Content-Type", Value: "application/json", ID: http1.IDContentType}}}
						resp.Body.Data, resp.Body.WireBytes = body, int64(len(body))
						fn(&reassembly.Transaction{
							Flow:     reassembly.Flow{Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(n >> 8), byte(n)}), 40000), Server: netip.MustParseAddrPort("10.0.0.1:80")},
							Exchange: http1.Exchange{Request: req, Response: resp},
						})
					}
				}
			}
		}
	}
}

// TestMemoryPerEndpoint measures the heap the catalog holds per endpoint
// at 100,000 endpoints (a structured flood on 42 hosts, 2401 paths each),
// and checks the budget: past max_endpoints the least valuable endpoints
// are evicted and counted.
func TestMemoryPerEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 100k-endpoint measurement takes a few seconds")
	}
	cfg := NewConfig()
	cfg.MaxEndpoints = 1 << 20 // no eviction: measure
	cat := NewCatalog(cfg, "t")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	Flood(42, cat.Observe)
	runtime.GC()
	runtime.ReadMemStats(&after)
	eps := len(cat.t.eps)
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(eps)
	t.Logf("memory: %d endpoints, %d nodes, %.0f bytes of heap per endpoint (target < 2048)", eps, cat.t.nodes, per)
	if eps < 100000 || per >= 2048 {
		t.Errorf("%d endpoints, %.0f bytes each", eps, per)
	}
	runtime.KeepAlive(cat)

	cfg = NewConfig()
	cat = NewCatalog(cfg, "t")
	Flood(50, cat.Observe)
	v := cat.View()
	t.Logf("budget: %d endpoints after %d paths (max_endpoints %d), %d evicted with %d calls", len(v.Endpoints), 50*2401, cfg.MaxEndpoints, v.Evicted, v.EvictedCalls)
	if len(v.Endpoints) > cfg.MaxEndpoints || v.Evicted != uint64(50*2401-cfg.MaxEndpoints) {
		t.Errorf("%d endpoints, %d evicted", len(v.Endpoints), v.Evicted)
	}
}
