package discovery

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testgen/apigen"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// specCase is one realistic spec with its traffic volume.
type specCase struct {
	file, host string
	calls      int
}

var accuracySpecs = []specCase{
	{"shop.yaml", "api.shop.test", 4000},
	{"saas.yaml", "api.saas.test", 4000},
	{"content.yaml", "www.content.test", 4000},
	{"payments.yaml", "api.pay.test", 4000},
}

// noise adds what production traffic carries besides the API: a scanner
// spraying random paths (404), static assets and health probes.
func noiseTx(rng *rand.Rand, host string, at time.Time, i int) *reassembly.Transaction {
	req := &http1.Request{Method: "GET", Host: host, Start: at, End: at}
	resp := &http1.Response{Status: 404, Start: at, End: at}
	switch i % 3 {
	case 0:
		req.Path = fmt.Sprintf("/%s/%x", []string{"wp-admin", "phpmyadmin", ".git", "admin", "backup", "cgi-bin"}[rng.IntN(6)], rng.Uint32())
	case 1:
		req.Path = fmt.Sprintf("/%x.php", rng.Uint64())
	case 2:
		req.Path = fmt.Sprintf("/static/js/app.%x.js", rng.Uint32()&0xffff)
		resp.Status = 200
	}
	req.Target = req.Path
	return &reassembly.Transaction{
		Flow:     reassembly.Flow{Client: netip.MustParseAddrPort("192.0.2.66:40000"), Server: netip.MustParseAddrPort("10.0.0.1:80")},
		Exchange: http1.Exchange{Request: req, Response: resp},
	}
}

type opKey struct{ host, method, shape string }

// TestTemplateAccuracy generates traffic from four specs of different
// styles (with several seeds, worker counts and volumes) and compares the discovered (host, method, template) set with the
// specs: precision and recall must be at least 0.95 for each.
func TestTemplateAccuracy(t *testing.T) {
	for _, run := range []struct {
		workers int
		seed    uint64
		scale   float64
	}{{1, 7, 1}, {2, 7, 1}, {1, 11, 0.25}, {2, 23, 0.25}, {1, 42, 2}} {
		workers := run.workers
		for _, sc := range accuracySpecs {
			calls := int(float64(sc.calls) * run.scale)
			t.Run(fmt.Sprintf("%s/workers=%d/seed=%d/calls=%d", sc.file, workers, run.seed, calls), func(t *testing.T) {
				doc, err := apigen.Load(filepath.Join("..", "..", "testdata", "specs", sc.file))
				if err != nil {
					t.Fatal(err)
				}
				g := apigen.New(doc, sc.host, run.seed)
				want := map[opKey]bool{}
				for _, op := range g.Ops {
					want[opKey{sc.host, op.Method, TemplateShape(op.Path)}] = true
				}
				cat := NewCatalog(NewConfig(), "test")
				var obs []*Observer
				for i := 0; i < workers; i++ {
					obs = append(obs, cat.Observer())
				}
				rng := rand.New(rand.NewPCG(1, 2))
				for i := 0; i < calls; i++ {
					tx, _ := g.Next()
					obs[i%workers].Analyze(tx, nil)
					if i%10 == 0 {
						obs[0].Analyze(noiseTx(rng, sc.host, tx.Request.Start, i/10), nil)
					}
				}
				v := cat.View()
				got := map[opKey]string{}
				for _, ep := range v.Endpoints {
					got[opKey{ep.Host, ep.Method, TemplateShape(ep.Path)}] = ep.Path
				}
				tp := 0
				var fp, fn []string
				for k, path := range got {
					if want[k] {
						tp++
					} else {
						fp = append(fp, k.method+" "+path)
					}
				}
				for k := range want {
					if _, ok := got[k]; !ok {
						fn = append(fn, k.method+" "+k.shape)
					}
				}
				sort.Strings(fp)
				sort.Strings(fn)
				precision := float64(tp) / float64(max(len(got), 1))
				recall := float64(tp) / float64(max(len(want), 1))
				t.Logf("%-14s workers=%d seed=%-2d calls=%-5d spec operations %3d  discovered %3d  precision %.3f  recall %.3f", sc.file, workers, run.seed, calls, len(want), len(got), precision, recall)
				if len(fp) > 0 {
					t.Logf("  not in the spec: %s", strings.Join(fp, ", "))
				}
				if len(fn) > 0 {
					t.Logf("  missed: %s", strings.Join(fn, ", "))
				}
				if precision < 0.95 || recall < 0.95 {
					t.Errorf("precision %.3f, recall %.3f: want both >= 0.95", precision, recall)
				}
			})
		}
	}
}
