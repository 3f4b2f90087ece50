// Package behavior is the behaviour analyzer: it follows threat actors
// (users, API keys, sessions, client IPs and HTTP fingerprints, linked into
// one actor over time) across connections and workers, and catches abuse
// that no single request reveals: credential stuffing, brute force, user
// enumeration, account takeover, broken object-level authorization (id
// walking and objects of other owners), rate abuse, denial of service,
// bots, scraping, low-and-slow probing and data exfiltration.
//
// State is shared by every worker (a sharded table with a hard bound and
// least-recently-used eviction) and all time comes from capture
// timestamps, so replaying a capture gives the same detections. Each actor
// has a threat score that rises with detections (its own and the attack
// analyzer's) and decays with a half-life, and a kill-chain stage;
// `actor` events report changes.
package behavior
