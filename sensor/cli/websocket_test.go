package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/eventtest"
	"github.com/apitap/apitap/internal/testutil/wstest"
)

// TestWebSocketMessagesAnalyzed records a real WebSocket session
// (compressed, context takeover) whose client sends an SQL injection in a
// JSON message and whose server answers with a card number and e-mail
// addresses: the message events are valid and tied to the upgrade, the
// attack and sensitive analyzers find both in messages (on the upgraded
// endpoint), no raw value leaks, and the output is the same for any
// number of workers.
func TestWebSocketMessagesAnalyzed(t *testing.T) {
	var msgs []string
	for i := 0; i < 12; i++ {
		q := fmt.Sprintf("laptop %d", i)
		if i == 5 {
			q = "x' UNION SELECT username, password FROM users--"
		}
		msgs = append(msgs, fmt.Sprintf(`{"type":"search","id":%d,"query":%q}`, i, q))
	}
	r := wstest.Record(t, wstest.Session{Mode: websocket.CompressionContextTakeover, Path: "/v1/live", Phases: [][]string{msgs},
		Reply: func(i int, _ string) string {
			if i == 0 { // the first server messages of a connection are always scanned (then one in sample_every)
				return `{"type":"profile","email":"jane.doe@example.com","card":"4111111111111111"}`
			}
			return fmt.Sprintf(`{"type":"results","id":%d,"items":[{"sku":"A-%d","price":%d.99}]}`, i, i, 100+i)
		}}, pcapgen.Base)
	capFile := filepath.Join(t.TempDir(), "ws.pcap")
	if err := pcapgen.WriteFile(capFile, pcapgen.Ethernet, &pcapgen.Encap{}, r.Packets); err != nil {
		t.Fatal(err)
	}
	args := []string{"read", "--emit", "transaction,message,detection,stats", "--sensor-id", "ws", "--progress", "never", "--quiet"}
	code, out, errOut := runCLI(t, nil, append(args, "--workers", "1", capFile)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	eventtest.ValidateStream(t, bytes.NewReader(out))
	for _, n := range []string{"2", "4"} {
		if _, many, _ := runCLI(t, nil, append(args, "--workers", n, capFile)...); !bytes.Equal(out, many) {
			t.Fatalf("--workers %s: different output", n)
		}
	}
	var messages, upgrades int
	classes := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var ev struct {
			Type       string `json:"type"`
			UpgradeSeq *int   `json:"upgrade_seq"`
			Class      string `json:"class"`
			Endpoint   struct {
				Path string `json:"path"`
			} `json:"endpoint"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		switch ev.Type {
		case "message":
			messages++
			if ev.UpgradeSeq == nil || *ev.UpgradeSeq != 0 {
				t.Errorf("message not tied to the upgrade: %s", line)
			}
		case "transaction":
			upgrades++
		case "detection":
			classes[ev.Class] = ev.Endpoint.Path
		}
	}
	if want := 2*len(msgs) + 2; messages != want || upgrades != 1 {
		t.Errorf("%d messages (want %d), %d transactions (want 1)", messages, want, upgrades)
	}
	if classes["sqli"] != "/v1/live" || classes["sensitive_data"] != "/v1/live" {
		t.Errorf("detections: %v", classes)
	}
	for _, raw := range []string{"4111111111111111", "jane.doe@example.com"} {
		if bytes.Contains(out, []byte(raw)) {
			t.Errorf("raw value %q in the output", raw)
		}
	}
	t.Logf("websocket: %d messages, detections %v", messages, classes)
}
