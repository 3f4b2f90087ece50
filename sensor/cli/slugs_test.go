package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/netrec"
)

// TestSlugsFoldOnRealHTTP records Go's net/http client and server
// (package netrec, no root needed): four clients read a blog API whose
// posts are addressed by slug (/api/posts/<slug>, answered with the
// author's e-mail and phone), a static sibling (/api/posts/drafts) and a
// resource (/api/users); one scanner asks eighty pages of the site's HTML.
// The sensitive analyzer's findings on the slugs fold into the catalog's
// endpoint once the position has seen enough of them, the sibling and
// the resource stay literal, the HTML pages fold nothing, and the output
// is the same with one and three workers and with every response scanned.
func TestSlugsFoldOnRealHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/posts/drafts", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"drafts":[{"id":1,"title":"Draft"}]}`)
	})
	mux.HandleFunc("GET /api/posts/{slug}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"slug":%q,"title":"A post","author":{"name":"Jane Roe","email":"jane.roe@mail.example","phone":"+1 202 555 0143"}}`, r.PathValue("slug"))
	})
	mux.HandleFunc("GET /api/users", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":1,"name":"x"}]`)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>the single-page application</html>")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	words := strings.Fields("amber birch cedar delta ember fjord grove harbor indigo jasper kelp lotus maple north onyx pearl quartz raven sierra tango")
	type actor struct {
		ip     netip.Addr
		rec    *netrec.Recorder
		client *http.Client
	}
	var actors []*actor
	get := func(a *actor, path string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Host = "blog.test"
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i := 0; i < 5; i++ {
		rec := &netrec.Recorder{}
		actors = append(actors, &actor{ip: netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}), rec: rec,
			client: &http.Client{Transport: &http.Transport{DialContext: rec.Dial, MaxIdleConnsPerHost: 1}}})
	}
	for i := 0; i < 80; i++ { // readers, in turn
		a := actors[i%4]
		get(a, fmt.Sprintf("/api/posts/%s-%s-%d", words[i%20], words[i/20], i))
		if i%8 == 0 {
			get(a, "/api/posts/drafts")
			get(a, "/api/users")
		}
	}
	for i := 0; i < 80; i++ { // the scanner
		get(actors[4], fmt.Sprintf("/page-%d", i))
	}
	var pkts []pcapgen.Packet
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i, a := range actors {
		a.client.CloseIdleConnections()
		pkts = append(pkts, a.rec.Packets(a.ip, netip.MustParseAddrPort("10.0.4.10:80"), start.Add(time.Duration(i)*time.Second))...)
	}
	slices.SortStableFunc(pkts, func(x, y pcapgen.Packet) int { return x.TS.Compare(y.TS) })
	dir := t.TempDir()
	capture := filepath.Join(dir, "slugs.pcap")
	if err := pcapgen.WriteFile(capture, pcapgen.Ethernet, &pcapgen.Encap{}, pkts); err != nil {
		t.Fatal(err)
	}
	all := filepath.Join(dir, "all.yaml")
	if err := os.WriteFile(all, []byte("analyzers:\n  sensitive:\n    sample_every: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) []byte {
		args := append([]string{"read", "--emit", "detection,endpoint", "--sensor-id", "slugs", "--progress", "never", "--quiet"}, extra...)
		code, out, errOut := runCLI(t, nil, append(args, capture)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		return out
	}
	out := run("--workers", "1")
	if three := run("--workers", "3"); !bytes.Equal(out, three) {
		t.Error("--workers 3 gives other output than --workers 1")
	}
	if dk, ek := detectionKeys(t, out), detectionKeys(t, run("--workers", "1", "--config", all)); !slices.Equal(dk, ek) {
		t.Errorf("sampling changes the detections:\n sampled:   %q\n unsampled: %q", dk, ek)
	}
	catalog := map[string]bool{}
	literal, folded := map[string]bool{}, 0
	for _, line := range bytes.Split(out, []byte("\n")) {
		var e struct {
			Type, Class, Path string
			Endpoint          struct{ Path string }
		}
		if len(line) == 0 || json.Unmarshal(line, &e) != nil {
			continue
		}
		switch {
		case e.Type == "endpoint":
			catalog[e.Path] = true
		case e.Type == "detection" && e.Class == "sensitive_data":
			switch p := e.Endpoint.Path; {
			case p == "/api/posts/{postId}":
				folded++
			case strings.HasPrefix(p, "/api/posts/") && !strings.Contains(p, "{"):
				literal[p] = true
			default:
				t.Errorf("sensitive_data on %s", p)
			}
		}
	}
	for _, p := range []string{"/api/posts/{postId}", "/api/posts/drafts", "/api/users"} {
		if !catalog[p] {
			t.Errorf("the catalog has no %s: %v", p, catalog)
		}
	}
	if folded == 0 || len(literal) >= 48 {
		t.Errorf("%d detections on the folded path, %d literal slug paths (the position folds at its 48th answer)", folded, len(literal))
	}
	t.Logf("%d detections on /api/posts/{postId}, %d slug paths before the fold; catalog %v", folded, len(literal), catalog)
}
