package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func blEvent(typ, value, action string) (string, []byte) {
	b, _ := json.Marshal(map[string]any{"type": "blocklist", "actor": map[string]string{"type": typ, "value": value}, "action": action,
		"reason": "sqli", "expires_at": time.Now().Add(time.Hour)})
	return typ + ":" + value, b
}

// TestBlocklistConsumer drives apitap blocklist without Kafka: options are
// checked, entries reach the files at once, hostile ones never, and the
// feed and metrics say so.
func TestBlocklistConsumer(t *testing.T) {
	dir := t.TempDir()
	fs, o := blocklistFlags(io.Discard)
	deny, js := filepath.Join(dir, "deny.conf"), filepath.Join(dir, "bl.json")
	if err := fs.Parse([]string{"--nginx", deny, "--json", js, "--listen", "127.0.0.1:0", "--never-block", "45.9.0.0/16", "--debounce", "1h"}); err != nil {
		t.Fatal(err)
	}
	c, err := newConsumer(o, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.loop(ctx, o.debounce)
	for _, ev := range [][2]string{{"ip", "45.0.0.1"}, {"ip", "fe80::1%x;allow all"}, {"ip", "255.255.255.255"}, {"ip", "45.9.1.1"}, {"cidr", "0.0.0.0/0"}, {"user", "alice"}} {
		k, v := blEvent(ev[0], ev[1], "block")
		if c.st.Apply(k, v) {
			c.notify()
		}
	}
	// the first change after a quiet period is written at once, whatever
	// the interval
	var b []byte
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if b, _ = os.ReadFile(deny); strings.Contains(string(b), "deny 45.0.0.1;") {
			break
		}
	}
	if string(b) != "# written by apitap blocklist; do not edit\ndeny 45.0.0.1;\n" {
		t.Fatalf("deny.conf:\n%s", b)
	}
	srv := httptest.NewServer(c.handler())
	defer srv.Close()
	get := func(path string) string {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if txt := get("/blocklist.txt"); txt != "45.0.0.1\n" {
		t.Errorf("feed: %q", txt)
	}
	if j := get("/blocklist.json"); !strings.Contains(j, `"user:alice"`) || strings.Contains(j, "fe80") {
		t.Errorf("json feed: %s", j)
	}
	m := get("/metrics")
	for _, want := range []string{`apitap_blocklist_rejected_total{output="nginx",reason="zone"} 1`, `apitap_blocklist_rejected_total{output="nginx",reason="never_block"} 2`,
		`apitap_blocklist_rejected_total{output="json",reason="prefix_too_short"} 1`, `apitap_blocklist_entries{action="block"} 2`, "apitap_blocklist_check_failures_total 0"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, bad := range [][]string{{"--actions", "allow"}, {"--actions", "would_block"}, {"--never-block", "nope"}, {"--haproxy-runtime", "/x.sock"}, {"--check-cmd", "true"}, {}} {
		fs, o := blocklistFlags(io.Discard)
		fs.Parse(append([]string{"--listen", ":0"}, bad...))
		if len(bad) == 0 {
			fs, o = blocklistFlags(io.Discard)
		}
		if _, err := newConsumer(o, zerolog.Nop()); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
