// Package syslog is the syslog sink: RFC 5424 messages over TCP or TLS
// (RFC 5425) with octet-counting framing, each carrying one event as JSON
// (apitap's or OCSF) or as CEF (ArcSight Common Event Format). See
// README.md.
//
// It sits behind the exporter's fan-out: Send is called from the sink's
// own goroutine, which owns the connection. The message time is the
// event's capture time, so a capture gives the same messages every time.
package syslog
