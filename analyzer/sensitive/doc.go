// Package sensitive is the sensitive-data analyzer: it finds payment
// cards, SSNs, IBANs, e-mail addresses, phone numbers, dates of birth, IP
// addresses, IMEIs, JWTs, secrets and keys, passwords and credentials in
// every part of each transaction (path, query, headers, cookies, JSON,
// form and text bodies, both directions), and custom types from the
// configuration.
//
// Pipeline position: stage one (StageFlow, on every worker) for requests,
// response headers and WebSocket messages, and a stage-two part
// (Responses, analyzer.Descriptor.NewOrdered) for response bodies: it sees
// every connection in capture order, so it learns per endpoint which
// responses to scan (responses.go). Both mark the types they found in
// tx.Notes, so that discovery records them in the catalog's
// sensitive_data. It emits exposure detections (pii_in_url,
// plaintext_credentials, sensitive_data, info_leak, jwt_weakness) whose
// evidence carries masked values only (package redact), with an optional
// keyed hash for correlation.
//
// Scanning is one pass per input: a table-driven tokenizer cuts the input
// into candidate tokens and only tokens whose shape fits a type reach a
// validator (Luhn and issuer ranges, SSA rules, mod-97 and country
// lengths, JWT header decoding, well-known key formats, entropy). JSON is
// walked structurally so each value is judged with its key as a hint
// (card_number, ssn, dob, password) and reported by JSON pointer.
//
// Concurrency: one Analyzer (and Scanner) per worker, and one Responses in
// stage two; repeated detections
// are folded over repeat_interval of capture time in the sensor's stage
// two (package aggregate), so they do not depend on the worker count.
package sensitive
