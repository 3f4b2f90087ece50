// Package behavior is the behaviour analyzer: it follows threat actors
// (users, API keys, sessions, client addresses, HTTP and TLS fingerprints,
// linked into one actor over time; campaigns of many addresses) and
// catches abuse that no single request reveals: credential stuffing (from
// one address or as a campaign), brute force, user enumeration, account
// takeover, broken object-level authorization, rate abuse, denial of
// service, bots, scraping (alone or as a campaign), low-and-slow probing
// and data exfiltration.
//
// Pipeline position: stage two (analyzer.StageOrdered), after the
// sensitive and attack analyzers whose verdicts it reads. Each transaction
// becomes an Observation (observe.go) that the detectors consume; they
// judge actors against baselines learnt from the traffic (per peer group
// and per endpoint, bounded histograms) and against each actor's own
// history, with floors that only keep tiny samples quiet.
//
// Concurrency: one Analyzer runs on the ordered stage's goroutine and owns
// the Tracker's tables; Tracker.mu serialises it with the readers of actor
// snapshots (Top, Report, Len) on other goroutines. All time comes from
// capture timestamps: the same capture gives the same detections with any
// number of workers. Every table has a hard bound.
package behavior
