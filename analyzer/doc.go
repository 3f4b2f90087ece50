// Package analyzer is the home of apitap's analyzers (discovery, sensitive
// data, conformance, attack, behaviour, risk) and of what they share: the
// plug-in registry and chain (this package), the event encoders (package
// event) and redaction (package redact).
//
// Plug-in pattern: each analyzer lives in its own folder with a README and
// registers a Descriptor from init(); a blank import in the sensor's list of
// analyzers links it in. Its configuration section `analyzers.<name>` is
// decoded strictly over the defaults NewConfig returns (Configure), and New
// builds one instance per worker. The sensor worker hands every
// reassembly.Transaction to its Chain synchronously and implements Emitter;
// windowed analyzers also implement Flusher and are flushed every second of
// capture time and at the end.
//
// Concurrency: a Chain and its analyzers belong to one worker goroutine.
// Register is called only from init functions.
package analyzer
