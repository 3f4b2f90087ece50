package aggregate

import (
	"fmt"
	"testing"
	"time"

	"github.com/apitap/apitap/analyzer/event"
)

type sink struct{ dets []event.Detection }

func (s *sink) Detection(d *event.Detection) { s.dets = append(s.dets, *d) }

// TestClients: with Clients set, a folded detection lists its clients
// busiest first with their counts, up to the bound, and counts the rest;
// the first evidence stays first.
func TestClients(t *testing.T) {
	a := New(time.Hour, 10, "pc-")
	a.Clients = 2
	var s sink
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := Key{Class: "plaintext_credentials", Rule: "authorization_basic", Host: "h"}
	for i, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.2", "192.0.2.3", "192.0.2.2", "192.0.2.1", "192.0.2.3"} {
		d := event.Detection{Class: k.Class, Severity: "high", Actor: event.Actor{IP: ip}, Count: 1, FirstSeen: t0, LastSeen: t0.Add(time.Duration(i) * time.Minute),
			Evidence: []event.Evidence{{Location: "header", Name: "authorization", Value: "[REDACTED len=12]", Rule: "credentials:authorization_basic"}}}
		a.Fold(k, &d, &s)
	}
	a.Flush(t0.Add(2*time.Hour), &s, true)
	if len(s.dets) != 2 {
		t.Fatalf("%d detections, want the first and the final update", len(s.dets))
	}
	got := fmt.Sprint(s.dets[1].Evidence)
	want := "[{header authorization [REDACTED len=12] credentials:authorization_basic } {client 192.0.2.2 3 requests client } {client 192.0.2.1 2 requests client } {client others 2 requests from clients not listed client }]"
	if got != want {
		t.Errorf("evidence\n%s\nwant\n%s", got, want)
	}
	if s.dets[1].Count != 7 {
		t.Errorf("count %d", s.dets[1].Count)
	}
	if first := fmt.Sprint(s.dets[0].Evidence); first != "[{header authorization [REDACTED len=12] credentials:authorization_basic } {client 192.0.2.1 1 requests client }]" {
		t.Errorf("first %s", first)
	}
}
