package graphql_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer"
	_ "github.com/apitap/apitap/analyzer/all"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/gqltest"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/sensor/decode"
)

// replay reassembles packets and calls fn with each transaction.
func replay(t *testing.T, pkts []pcapgen.Packet, fn func(tx *reassembly.Transaction)) {
	t.Helper()
	replayWorker(t, reassembly.NewWorker(reassembly.Config{}, fn), pkts)
}

// replayWorker feeds packets to w and closes it.
func replayWorker(t *testing.T, w *reassembly.Worker, pkts []pcapgen.Packet) {
	t.Helper()
	dec := decode.New(decode.Options{})
	enc := &pcapgen.Encap{}
	var buf []byte
	var dp decode.Packet
	for i := range pkts {
		buf = enc.AppendFrame(buf[:0], &pkts[i].Seg)
		if res := dec.Decode(buf, layers.LinkTypeEthernet, &dp); res != decode.OK {
			t.Fatalf("packet %d: %v", i, res)
		}
		tcp := &dp.TCP
		if len(tcp.Payload) == 0 && !tcp.SYN && !tcp.FIN && !tcp.RST {
			continue
		}
		p := reassembly.Packet{NetFlow: dp.NetFlow, TCP: tcp, CI: gopacket.CaptureInfo{Timestamp: pkts[i].TS, CaptureLength: len(buf), Length: len(buf)},
			Src: dp.Src, Dst: dp.Dst, SrcPort: dp.SrcPort, DstPort: dp.DstPort}
		w.Packet(&p)
	}
	w.Close()
}

// recorder takes every occurrence of a finding (a Folder: nothing is
// aggregated away).
type recorder struct{ classes map[string]bool }

func (r *recorder) Detection(d *event.Detection) { r.classes[d.Class] = true }
func (r *recorder) Fold(_ analyzer.FoldSpec, _ analyzer.FoldKey, d *event.Detection) {
	r.classes[d.Class] = true
}

func chainOf(t *testing.T, names ...string) *analyzer.Chain {
	t.Helper()
	var enabled []analyzer.Enabled
	for _, d := range analyzer.Registered() {
		for _, n := range names {
			if d.Name == n {
				enabled = append(enabled, analyzer.Enabled{Desc: d, Config: d.NewConfig()})
			}
		}
	}
	env := analyzer.Env{Log: zerolog.Nop(), Sensor: "test"}
	shared, err := analyzer.NewShared(enabled, env)
	if err != nil {
		t.Fatal(err)
	}
	c, err := analyzer.NewChain(enabled, shared, env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caseOf(tx *reassembly.Transaction) int {
	if tx.Request == nil {
		return -1
	}
	for _, h := range tx.Request.Headers {
		if h.Name == "X-Case" {
			if n, err := strconv.Atoi(h.Value); err == nil {
				return n
			}
		}
	}
	return -1
}

// TestGraphQLRealServerCatalog: a real GraphQL server (graph-gophers/
// graphql-go) driven by a mix of clients (a web app with named
// operations, fragments and variables; a mobile app with automatic
// persisted queries; batches; cacheable GETs; scripts with anonymous
// queries; application/graphql): the catalog's operations against what
// the clients sent, precision and recall at least 0.97.
func TestGraphQLRealServerCatalog(t *testing.T) {
	r := gqltest.Record(t, 7, 800, false)
	truth := map[string]bool{}
	for _, c := range r.Cases {
		for _, k := range c.Ops {
			truth[k] = true
		}
	}
	cat := discovery.NewCatalog(discovery.NewConfig(), "test")
	n := 0
	replay(t, r.Packets, func(tx *reassembly.Transaction) {
		n++
		cat.Observe(tx)
	})
	if n != len(r.Cases) {
		t.Fatalf("%d transactions, %d requests sent", n, len(r.Cases))
	}
	found := map[string]bool{}
	v := cat.View()
	for _, ep := range v.Endpoints {
		j := ep.JSON(v.Time)
		if j.GraphQL == nil {
			continue
		}
		for _, o := range j.GraphQL.Operations {
			k := j.Method + " " + o.Type + " " + o.Name
			if o.Name == "" {
				k = j.Method + " " + o.Type + " {" + strings.Join(o.RootFields, ",") + "}"
			}
			found[k] = true
		}
	}
	tp := 0
	for k := range found {
		if truth[k] {
			tp++
		} else {
			t.Logf("not sent: %s", k)
		}
	}
	for k := range truth {
		if !found[k] {
			t.Logf("missed: %s", k)
		}
	}
	precision, recall := float64(tp)/float64(len(found)), float64(tp)/float64(len(truth))
	fmt.Printf("graphql catalog: %d requests, %d operations sent, %d in the catalog, precision %.3f recall %.3f\n", len(r.Cases), len(truth), len(found), precision, recall)
	if precision < 0.97 || recall < 0.97 {
		t.Errorf("precision %.3f recall %.3f, want at least 0.97", precision, recall)
	}
}

// TestGraphQLRealServerAttacks: the same server and clients with an
// attack corpus mixed in (introspection, depth, aliases, batching,
// directives, fragment cycles, CSRF, field suggestions, verbose errors,
// SQL injection and XSS in variables and argument literals): recall per
// class at least 0.95, false positives (any GraphQL or injection class on
// a benign request) under 0.1% of benign operations.
func TestGraphQLRealServerAttacks(t *testing.T) {
	r := gqltest.Record(t, 11, 1500, true)
	chain := chainOf(t, "attack", "graphql")
	hit, total := map[string]int{}, map[string]int{}
	fp, benign, benignOps := 0, 0, 0
	fpClasses := map[string]int{}
	replay(t, r.Packets, func(tx *reassembly.Transaction) {
		i := caseOf(tx)
		if i < 0 {
			return
		}
		c := r.Cases[i]
		rec := &recorder{classes: map[string]bool{}}
		tx.Notes = reassembly.Notes{}
		chain.Analyze(tx, rec)
		if c.Label == "" {
			benign++
			benignOps += len(c.Ops)
			if len(rec.classes) > 0 {
				fp++
				for k := range rec.classes {
					fpClasses[k]++
				}
			}
			return
		}
		total[c.Label]++
		if rec.classes[c.Label] {
			hit[c.Label]++
		}
	})
	var labels []string
	for l := range total {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	allHit, all := 0, 0
	for _, l := range labels {
		rc := float64(hit[l]) / float64(total[l])
		allHit += hit[l]
		all += total[l]
		fmt.Printf("graphql attacks: %-28s %3d/%3d recall %.3f\n", l, hit[l], total[l], rc)
		if rc < 0.95 {
			t.Errorf("%s: recall %.3f", l, rc)
		}
	}
	fpRate := float64(fp) / float64(benignOps)
	fmt.Printf("graphql attacks: all %d/%d recall %.3f; benign requests %d (%d operations), flagged %d: FP rate %.4f%% %v\n",
		allHit, all, float64(allHit)/float64(all), benign, benignOps, fp, 100*fpRate, fpClasses)
	if fpRate >= 0.001 {
		t.Errorf("false positives: %d of %d benign operations", fp, benignOps)
	}
}

// TestGraphQLRealServerSensitive: the sensitive types of each operation
// in the catalog, against the real server and the client mix (batches
// included). The truth is the schema: the sensitive fields the server
// returns are User.email and AuthPayload.token (a session token: a
// secret), so exactly the operations that select them (GetMe, alone or
// inside a batch, and Login) must carry "email" and "secret", and the
// operations batched with GetMe (ListProducts, Categories) nothing. No
// raw value reaches the catalog.
func TestGraphQLRealServerSensitive(t *testing.T) {
	r := gqltest.Record(t, 7, 800, false)
	chain := chainOf(t, "sensitive", "graphql")
	cat := discovery.NewCatalog(discovery.NewConfig(), "test")
	batchedGetMe := 0
	replay(t, r.Packets, func(tx *reassembly.Transaction) {
		tx.Notes = reassembly.Notes{}
		chain.Analyze(tx, &recorder{classes: map[string]bool{}})
		if g := tx.Notes.GraphQL; g != nil && len(g.Sensitive) > 0 && g.Sensitive[0] != 0 {
			batchedGetMe++
		}
		cat.Observe(tx)
	})
	truth := map[string]bool{"POST query GetMe email": true, "POST mutation Login secret": true}
	found := map[string]bool{}
	ops := 0
	v := cat.View()
	for _, ep := range v.Endpoints {
		j := ep.JSON(v.Time)
		if j.GraphQL == nil {
			continue
		}
		for _, o := range j.GraphQL.Operations {
			ops++
			for _, s := range o.Sensitive {
				found[j.Method+" "+o.Type+" "+o.Name+" "+s] = true
			}
		}
	}
	tp := 0
	for k := range found {
		if truth[k] {
			tp++
		} else {
			t.Errorf("attributed wrongly: %s", k)
		}
	}
	for k := range truth {
		if !found[k] {
			t.Errorf("missed: %s", k)
		}
	}
	t.Logf("graphql sensitive per operation: %d operations in the catalog, %d (operation, type) pairs found, %d expected, %d right; %d batches whose GetMe element carried an e-mail",
		ops, len(found), len(truth), tp, batchedGetMe)
	if batchedGetMe == 0 {
		t.Error("no batch with GetMe: the test does not cover batches")
	}
	doc := v.JSON("test")
	if strings.Contains(string(doc), "@shop.example") || strings.Contains(string(doc), "opaque-session-token") {
		t.Error("a raw e-mail address in the catalog")
	}
}
