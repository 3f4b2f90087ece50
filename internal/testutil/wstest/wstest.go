// Package wstest records real WebSocket sessions for tests: a server and
// a browser-like client of github.com/coder/websocket talk over loopback,
// in-process, and the client's connection is recorded (package netrec)
// into capture packets.
package wstest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
	"github.com/apitap/apitap/internal/testutil/netrec"
)

// Session describes one recorded session.
type Session struct {
	// Mode is the permessage-deflate mode both sides ask for.
	Mode websocket.CompressionMode
	// Path is the upgrade request's path (and query).
	Path string
	// Phases are the client's messages, in groups: a Mark is recorded
	// before each group (Marks). Each message is answered by Reply.
	Phases [][]string
	// Fragment, when set, says which messages (by overall index) are sent
	// in three frames.
	Fragment func(i int) bool
	// Reply makes the server's answer to message i.
	Reply func(i int, msg string) string
}

// Result is a recorded session.
type Result struct {
	Packets []pcapgen.Packet
	// Marks are the packet indexes where each phase starts.
	Marks []int
	// Sent lists the messages in order: each client message, then the
	// server's reply.
	Sent []string
}

// Record runs the session and returns its capture: client 10.0.1.20,
// server 10.0.2.10:80, starting at start.
func Record(t testing.TB, s Session, start time.Time) Result {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: s.Mode, OriginPatterns: []string{"app.example"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		for i := 0; ; i++ {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, []byte(s.Reply(i, string(msg)))); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	rec := &netrec.Recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{DialContext: rec.Dial}}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+s.Path, &websocket.DialOptions{
		HTTPClient: hc, CompressionMode: s.Mode,
		HTTPHeader: http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"}, "Origin": {"https://app.example"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	n := 0
	for _, phase := range s.Phases {
		rec.Mark()
		for _, msg := range phase {
			if s.Fragment != nil && s.Fragment(n) && len(msg) > 10 {
				w, err := c.Writer(ctx, websocket.MessageText)
				if err != nil {
					t.Fatal(err)
				}
				for _, part := range []string{msg[:5], msg[5:10], msg[10:]} {
					if _, err := w.Write([]byte(part)); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			} else if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			n++
			_, reply, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, msg, string(reply))
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	pkts := rec.Packets(netip.MustParseAddr("10.0.1.20"), netip.MustParseAddrPort("10.0.2.10:80"), start)
	return Result{Packets: pkts, Marks: append([]int(nil), rec.Marks...), Sent: sent}
}
