// Package ocsf maps apitap's events to the Open Cybersecurity Schema
// Framework (OCSF 1.3.0), for the sinks configured with `format: ocsf`:
// detections become Detection Finding events (class 2004), transactions
// API Activity events (class 6003); apitap's own fields go to `unmapped`.
// README.md has the field table.
//
// It sits in the exporter stage, on each sink's goroutine, off the packet
// path: a Converter decodes the apitap JSON and encodes the OCSF event. It
// is stateless and deterministic (event times are capture times), so one
// capture always gives the same OCSF events.
package ocsf
