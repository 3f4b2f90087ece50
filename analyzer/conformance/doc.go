// Package conformance is the OpenAPI conformance analyzer: it matches every
// transaction to the operations of the published specs (OpenAPI 3.0/3.1,
// Swagger 2.0 converted, loaded and validated with kin-openapi) and
// reports where runtime traffic departs from them: shadow endpoints,
// undocumented methods, parameters, body fields, headers and status codes,
// schema violations, and zombie endpoints (deprecated, only in an older
// version of a spec, or superseded by a newer version: a higher version
// segment, a versioned host, a newer version header value), with what
// replaced them. Health, readiness and metrics endpoints no spec documents
// are listed as infrastructure, not shadow APIs.
//
// Pipeline position: stage one (StageFlow, on every worker), after attack
// (After: its verdict tells probes and attacks apart: they make no shadow
// endpoint and no parameter findings) and before discovery; it marks each
// transaction's status and violations in tx.Notes so the catalog records
// them per endpoint. Findings are counted in the shared State, one per
// endpoint, class and name (counts, first and last seen and the earliest
// client do not depend on how flows were spread over workers); its
// Report, in stage two, emits each once and updates its count (when it
// has doubled and repeat_interval passed, and at the end), reports shadow
// endpoints and undocumented methods once per catalog template, and
// prepares the Diff for `apitap diff`.
//
// Concurrency: the Router is immutable and swapped atomically on reload
// (SIGHUP, or a spec file changing on disk); Op counters are atomic; the
// State's finding tables are behind a mutex taken only when a finding
// occurs. Matching allocates nothing (finding a superseded version of an
// unmatched path does).
package conformance
