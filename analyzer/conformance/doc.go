// Package conformance is the OpenAPI conformance analyzer: it matches every
// transaction to the operations of the published specs (OpenAPI 3.0/3.1,
// Swagger 2.0 converted, loaded and validated with kin-openapi) and
// reports where runtime traffic departs from them: shadow endpoints,
// undocumented methods, parameters, headers and status codes, schema
// violations, and zombie endpoints (deprecated, or only in an older version
// of a spec).
//
// Pipeline position: stage one (StageFlow, on every worker), before
// discovery; it marks each transaction's status and violations in tx.Notes
// so the catalog records them per endpoint. Per-transaction findings are
// folded in the sensor's stage two (package aggregate); shadow endpoints and
// undocumented methods are reported once per catalog template by the shared
// State's Report, which also prepares the Diff for `apitap diff`.
//
// Concurrency: the Router is immutable and swapped atomically on reload
// (SIGHUP, or a spec file changing on disk); Op counters are atomic; the
// State's finding tables are behind a mutex taken only when a finding
// occurs. Matching allocates nothing.
package conformance
