// Package all links every sink into the binary: one blank import per
// sink, each registering itself from init (see package exporter).
package all

import (
	// rotated JSON-lines files
	_ "github.com/apitap/apitap/exporter/file"
	// Kafka topics per event type, with the on-disk spool
	_ "github.com/apitap/apitap/exporter/kafka"
	// RFC 5424 syslog over TCP or TLS: JSON or CEF
	_ "github.com/apitap/apitap/exporter/syslog"
	// HTTP POST to a webhook (Slack, Teams, SOAR), with retries and the spool
	_ "github.com/apitap/apitap/exporter/webhook"
)
