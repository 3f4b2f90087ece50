// Package analyzer is the home of apitap's analyzers (discovery, sensitive
// data, conformance, attack, behaviour, risk) and of what they share: the
// plug-in registry and chain (this package), the event encoders (package
// event) and redaction (package redact).
//
// Plug-in pattern: each analyzer lives in its own folder with a README and
// registers a Descriptor from init(); a blank import in the sensor's list of
// analyzers links it in. Its configuration section `analyzers.<name>` is
// decoded strictly over the defaults NewConfig returns (Configure). A
// Descriptor says where the analyzer runs (Stage), whose verdicts it reads
// (After) and which it writes (Provides); Registered orders the chain from
// that. StageFlow analyzers get one instance per sensor worker and see the
// transactions of that worker's connections; StageOrdered analyzers get one
// instance, in the sensor's stage two, which sees every transaction in
// capture order. Both implement Analyze; the sensor implements Emitter (and
// Folder, so that repeated findings fold in stage two); windowed
// StageOrdered analyzers also implement Flusher and are flushed every
// second of capture time and at the end. A StageFlow analyzer may have a
// part that runs in stage two (Descriptor.NewOrdered), before the
// StageOrdered analyzers: the sensitive analyzer scans response bodies
// there, sampled per endpoint across connections.
//
// Concurrency: a Chain and its analyzers belong to one goroutine (a worker,
// or stage two). Register is called only from init functions.
package analyzer
