// Package analyzer is the home of apitap's analyzers (discovery, sensitive
// data, conformance, attack, behaviour, risk) and of what they share: the
// event encoders (package event) and redaction (package redact). Analyzers
// receive reassembly.Transaction values synchronously from a sensor worker
// and emit events; exporters consume those events.
package analyzer
