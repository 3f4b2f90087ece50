// Package attack is the attack-detection analyzer: injection and exploit
// attempts (SQL, XSS, path traversal, command injection, SSRF, Log4Shell,
// XXE, SSTI, NoSQL operators, prototype pollution), request smuggling
// ambiguities, scanners, and CVE signatures from YAML rule packs.
//
// Pipeline position: in the analyzer chain after conformance. For every
// input value (path, query names and values, headers, cookies, JSON keys
// and values, form fields, XML bodies) it normalises once (URL decoding
// repeated, %u escapes, overlong UTF-8, HTML entities, backslash escapes), runs
// one Aho-Corasick prefilter pass that says which classes' keywords occur,
// and only then the detectors of those classes (libinjection for SQL and
// XSS). Rules are evaluated only when their gate, a literal they need,
// is in the request (ruleindex.go). The response is checked for signs of success (SQL errors, file
// contents, reflected payloads, 5xx after injection), which raise severity
// and confidence and mark the detection succeeded: likely.
//
// Concurrency: rules are swapped atomically on reload; each worker has its
// own normaliser buffers and aggregation (package aggregate), keyed per
// actor so the blocklist can act on the attacker.
package attack
