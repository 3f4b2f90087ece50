package reassembly_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"gopkg.in/yaml.v3"

	. "github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// TestWebSocketConfig: reassembly.websocket is decoded strictly and
// validated; its bounds apply to a real capture (a compressed session with
// context takeover): messages past max_messages_per_connection are
// counted, not reported, and payloads are cut at max_message_bytes,
// whatever reassembly.http.max_body_bytes says.
func TestWebSocketConfig(t *testing.T) {
	decode := func(doc string) (Config, error) {
		var c Config
		dec := yaml.NewDecoder(strings.NewReader(doc))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	cfg, err := decode("http: {max_body_bytes: 1048576}\nwebsocket: {max_message_bytes: 200, max_messages_per_connection: 10}\n")
	if err != nil {
		t.Fatal(err)
	}
	for doc, want := range map[string]string{
		"websocket: {max_frames: 3}\n":                   "field max_frames not found",
		"websocket: {max_message_bytes: -1}\n":           "reassembly.websocket limits must be positive",
		"websocket: {max_message_bytes: 100000000}\n":    "at most 64 MiB",
		"websocket: {max_messages_per_connection: -5}\n": "reassembly.websocket limits must be positive",
	} {
		if _, err := decode(doc); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", doc, err, want)
		}
	}
	pkts, _, _ := wsSession(t, websocket.CompressionContextTakeover, 2)
	all, stAll := replayWS(t, pkts)
	some, st := replayWSWith(t, cfg, pkts)
	trunc := 0
	for i, m := range some {
		if len(m.data) > 200 {
			t.Errorf("message %d: %d bytes kept, bound 200", i, len(m.data))
		}
		if m.flags&http1.FlagTruncated != 0 {
			trunc++
			if !strings.HasPrefix(all[i].data, m.data) {
				t.Errorf("message %d: the kept bytes are not the message's start", i)
			}
		} else if !bytes.Equal([]byte(m.data), []byte(all[i].data)) {
			t.Errorf("message %d differs", i)
		}
	}
	t.Logf("defaults: %d messages reported, %d capped; max_messages_per_connection 10, max_message_bytes 200: %d reported (%d truncated), %d capped, %d frames parsed (%d with defaults)",
		len(all), stAll.WebSocket.CappedMessages, len(some), trunc, st.WebSocket.CappedMessages, st.WebSocket.Frames, stAll.WebSocket.Frames)
	if len(some) != 10 || st.WebSocket.CappedMessages != uint64(len(all)-10) || st.WebSocket.Frames != stAll.WebSocket.Frames || trunc == 0 {
		t.Errorf("bounded: %d reported, %+v", len(some), st.WebSocket)
	}
}
