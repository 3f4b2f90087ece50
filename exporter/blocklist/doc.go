// Package blocklist turns detections into mitigation requests for the
// enforcement points apitap feeds (WAFs, gateways, load balancers), and
// writes them in forms those enforcement points cannot choke on.
//
// The policy (Manager) maps detection class and severity to an action and
// a TTL; an entry needs evidence that its actor really talked to the
// server (a confirmed flow: handshake and server answer) and enough
// confidence (a high-confidence signature, or several distinct signals,
// for a block; medium confidence rate-limits at most). Entries are keyed by
// actor (ip, cidr, user, api_key, session, fingerprint), refreshed while
// the actor keeps misbehaving, expire with a revoke (on Kafka: a tombstone
// on the compacted apitap.blocklist topic) and get longer TTLs for repeat
// offenders. The never-block set (Guard: loopback, unspecified, broadcast,
// multicast, link-local, documentation and reserved ranges, private ranges
// unless opted in, the sensor's own addresses, trusted proxies, gateways,
// the monitored servers learned from traffic, the allow list) is checked
// on normalised addresses (zone dropped, IPv4-mapped unmapped) before
// anything else. Every entry not made is counted by reason.
//
// The consumer side (Materializer, used by `apitap blocklist`) keeps the
// current entries from the topic and writes them for nginx (deny, geo),
// HAProxy (ACL and map files, the runtime API over the stats socket),
// plain lists and JSON: every value is validated for its target and
// rejected (and counted) otherwise, a candidate file can be checked with
// the target's own checker, and the last good file stays when the check
// fails.
//
// Pipeline position: the sensor hands every detection (from workers and
// shared analyzer state) to one Manager; Tick is called with capture time;
// NoteServer and NoteClientID are fed per transaction. The Manager is safe
// for concurrent use: Detection and Tick under one mutex, NoteServer under
// a read lock once a server is known, NoteClient under one of 16 shard
// locks.
package blocklist
