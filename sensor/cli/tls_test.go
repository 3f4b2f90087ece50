package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apitap/apitap/internal/testutil/eventtest"
)

// TestTLSCaptures checks the committed captures of real TLS clients and
// servers (testdata/tls, recorded by tlsrecord_linux_test.go) with their
// key logs: exactly the transactions the clients made, decrypted.
func TestTLSCaptures(t *testing.T) {
	dir := filepath.Join(repoRoot, "testdata", "tls")
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]tlsCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) { checkTLSCapture(t, dir, name, cases[name]) })
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// tlsEvent is what the checks read of transaction and stats events.
type tlsEvent struct {
	Flow struct {
		Client struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		} `json:"client"`
		Server struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		} `json:"server"`
	} `json:"flow"`
	Protocol string         `json:"protocol"`
	Host     string         `json:"host"`
	Method   string         `json:"method"`
	Path     string         `json:"path"`
	Status   int            `json:"status"`
	Source   string         `json:"source"`
	TLS      map[string]any `json:"tls"`
	Flags    []string       `json:"flags"`
}

// cleanEnd reports whether e ended without trouble: no flags. (nginx ends
// some HTTP/2 exchanges after its complete response with RST_STREAM
// NO_ERROR, which RFC 9113 section 8.1 allows and which is no reset:
// reassembly/http2 TestConnEarlyResponseNoError.)
func (e *tlsEvent) cleanEnd() bool {
	return len(e.Flags) == 0
}

// readTLS runs apitap read on a capture (with the key log when keys is
// set) and returns its transactions and the final stats' tls counters.
func readTLS(t *testing.T, pcap, keys string) ([]tlsEvent, map[string]uint64) {
	t.Helper()
	args := []string{"read", "--quiet", "--emit", "transaction,stats"}
	if keys != "" {
		args = append(args, "--tls-keylog", keys)
	}
	code, out, errOut := runCLI(t, nil, append(args, pcap)...)
	if code != 0 {
		t.Fatalf("apitap %v: exit %d\n%s", args, code, errOut)
	}
	eventtest.ValidateStream(t, bytes.NewReader(out))
	var txs []tlsEvent
	var counts map[string]uint64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var typ struct {
			Type string `json:"type"`
		}
		json.Unmarshal(sc.Bytes(), &typ)
		switch typ.Type {
		case "transaction":
			var e tlsEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			txs = append(txs, e)
		case "stats":
			var st struct {
				TLS map[string]uint64 `json:"tls"`
			}
			json.Unmarshal(sc.Bytes(), &st)
			counts = st.TLS
		}
	}
	return txs, counts
}

// checkTLSCapture: with its key log, every request of the capture is one
// complete transaction marked tls_keylog, with the capture's version and
// cipher, between the client and the server's port; every session is
// decrypted; key updates are followed. Without the key log the sessions
// are fingerprinted, counted, and nothing is parsed.
func checkTLSCapture(t *testing.T, dir, name string, c tlsCase) {
	t.Helper()
	pcap := filepath.Join(dir, name)
	txs, st := readTLS(t, pcap, filepath.Join(dir, c.Keylog))
	if len(txs) != c.Transactions {
		t.Errorf("%s: %d transactions, want %d (tls %v)", name, len(txs), c.Transactions, st)
	}
	server := ""
	for i, e := range txs {
		if e.Source != "tls_keylog" || e.TLS["version"] != c.Version || e.TLS["cipher"] != c.Cipher || e.Status == 0 || !e.cleanEnd() ||
			e.Flow.Server.Port != c.Port || e.Flow.Client.IP == e.Flow.Server.IP || server != "" && e.Flow.Server.IP != server {
			t.Errorf("%s: transaction %d: %s %s %d source %q tls %v flags %v, %s:%d -> %s:%d", name, i, e.Method, e.Path, e.Status, e.Source, e.TLS, e.Flags,
				e.Flow.Client.IP, e.Flow.Client.Port, e.Flow.Server.IP, e.Flow.Server.Port)
		}
		server = e.Flow.Server.IP
	}
	if c.Protocol != "" { // HTTP/2: the requests the clients made, exactly
		var got []string
		for i, e := range txs {
			if e.Protocol != c.Protocol || e.Host != c.Host {
				t.Errorf("%s: transaction %d: protocol %q host %q, want %q %q", name, i, e.Protocol, e.Host, c.Protocol, c.Host)
			}
			got = append(got, fmt.Sprintf("%s %s %d", e.Method, e.Path, e.Status))
		}
		sort.Strings(got)
		if !slices.Equal(got, c.Requests) {
			t.Errorf("%s: requests\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(c.Requests, "\n"))
		}
	}
	if st["sessions_decrypted"] != uint64(c.Connections) || st["sessions_no_keys"] != 0 || st["auth_failures"] != 0 || st["key_updates"] < uint64(c.KeyUpdates) {
		t.Errorf("%s: tls counters %v, want %d sessions decrypted, %d key updates", name, st, c.Connections, c.KeyUpdates)
	}
	t.Logf("%s: %d transactions over %d connections (%s, %s, keys from the %s): tls %v", name, c.Transactions, c.Connections, c.Version, c.Cipher, c.KeysFrom, st)
	txs, st = readTLS(t, pcap, "")
	if len(txs) != 0 || st["hellos"] != uint64(c.Connections) {
		t.Errorf("%s without the key log: %d transactions, tls %v", name, len(txs), st)
	}
}
