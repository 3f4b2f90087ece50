// Package attack is the attack-detection analyzer: injection and exploit
// attempts (SQL, XSS, path traversal, command injection, SSRF, Log4Shell,
// XXE, SSTI, NoSQL operators, prototype pollution, CRLF injection, open
// redirects, XPath and LDAP injection, unsafe deserialization, malicious
// uploads), evasion by padded oversized heads, request smuggling
// ambiguities, scanners, and CVE signatures from YAML rule packs, with
// Coraza and the OWASP Core Rule Set as a second opinion (deep.go).
//
// Pipeline position: in the analyzer chain after conformance. For every
// input value (path, query names and values, headers, cookies, JSON keys
// and values, form fields, multipart parts, XML bodies) it normalises once
// (URL decoding repeated, %u escapes, overlong UTF-8, HTML entities,
// backslash escapes, full-width forms), runs one Aho-Corasick prefilter
// pass that says which classes' keywords occur (detect.go), and only then
// the detectors of those classes (dispatch.go): a SQL lexer and rules
// (sqli.go), a shell model (shell.go), HTML and script checks (xss.go),
// traversal and sensitive files (lfi.go), the newer classes (classes.go,
// upload.go, evasion.go), libinjection where syntax is present. Rules are
// evaluated only when their gate, a literal they need, is in the request
// (ruleindex.go). The response is checked for signs of success (SQL
// errors, file contents, reflected payloads, redirects and injected
// headers, 5xx after injection), which raise severity and confidence and
// mark the detection succeeded: likely. Flagged transactions (and a
// sample of the others) get the deep check within a budget per second of
// capture time; its findings back the fast engine's or become detections.
// Evidence is masked (evidence.go): credentials up to the matched part,
// personal data and secrets inside snippets.
//
// Concurrency: rules are swapped atomically on reload; each worker has its
// own normaliser buffers, clean-value caches (which never change an
// answer) and aggregation (package aggregate), keyed per actor so the
// blocklist can act on the attacker. The compiled CRS is shared.
package attack
