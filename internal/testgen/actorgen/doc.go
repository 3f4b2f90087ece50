// Package actorgen generates labelled HTTP traffic of many actors over a
// few hours of capture time, for the behaviour analyzer's scenario tests:
// abuse (credential stuffing from one address, a tool fleet or rotating
// residential proxies, brute force, account takeover, object-level
// authorization walks, rate abuse, bots, scraping from one or many
// addresses, exfiltration with a stolen token, denial of service,
// low-and-slow probing, user enumeration) and the benign heavy users that
// look like it (NAT gateways with hundreds of users, carrier NAT with
// mobile pollers, partner integrations with machine-regular timing, bulk
// exports, verified search-engine crawlers, Kubernetes probes and load
// balancer health checks, developers exploring the API, anonymous
// visitors, busy users).
//
// It is written from descriptions of how such clients behave, not from the
// detectors: rates, jitter, user agents, header sets, address pools, user
// lists and timings are drawn from ranges by the seed, so a detector tuned
// to one draw meets others. Every exchange carries its scenario; every
// scenario lists the identities (addresses, users, API keys) by which a
// detection or a blocklist entry is attributed to it.
//
// Deterministic: the same seed and options give the same traffic. Not safe
// for concurrent use (a generator is used once).
package actorgen
