package syslog

import (
	"bytes"
	"testing"

	"github.com/apitap/apitap/exporter"
)

// FuzzMessage: any event value gives a well-formed message (or is left
// out): one line, the RFC 5424 header, CEF escaping intact.
func FuzzMessage(f *testing.F) {
	f.Add([]byte(`{"type":"detection","time":"2026-01-15T10:00:21.0018Z","id":"a|b=c\\d","class":"sqli","severity":"high","actor":{"ip":"::ffff:10.0.0.1","user":"x\ny"},"evidence":[{"location":"query","name":"q","value":"v=1|2","rule":"r"}],"count":2}`), "detection")
	f.Add([]byte(`{"type":"blocklist","time":"2026-01-15T10:02:00.8Z","key":"ip:203.0.113.10","actor":{"type":"ip","value":"203.0.113.10"},"action":"block","reason":"x","detection_ids":["a"],"ttl_seconds":3600}`), "blocklist")
	f.Add([]byte(`{"time":1768471221001,"severity_id":5}`), "detection")
	var sinks []*Sink
	for _, payload := range []string{"json", "cef"} {
		s, err := New(Config{Address: "127.0.0.1:1", Transport: "tcp", Payload: payload, Facility: "local0", AppName: "apitap", Timeout: 1, MaxAttempts: 1}, exporter.Env{Sensor: "s p", Version: `v"1]`})
		if err != nil {
			f.Fatal(err)
		}
		sinks = append(sinks, s)
	}
	f.Fuzz(func(t *testing.T, value []byte, typ string) {
		for _, s := range sinks {
			r := exporter.Record{Type: typ, Value: value}
			if !s.format(&r) {
				continue
			}
			if !bytes.HasPrefix(s.msg, []byte("<")) || !bytes.Contains(s.msg, []byte(">1 ")) {
				t.Fatalf("no RFC 5424 header: %q", s.msg)
			}
			if s.c.Payload == "cef" && bytes.ContainsAny(s.msg, "\r\n") {
				t.Fatalf("CEF message spans lines: %q", s.msg)
			}
		}
	})
}
