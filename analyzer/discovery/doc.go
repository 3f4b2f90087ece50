// Package discovery is the API discovery analyzer: it builds the runtime
// catalog of hosts and endpoints (path templates such as
// /v1/users/{userId}) with what each endpoint shows: parameters, headers,
// content types, inferred JSON schemas, status codes, authentication,
// consumers, usage by hour, latency, bytes, capture completeness and the
// probes aimed at it.
//
// Pipeline position: stage two (StageOrdered), after the analyzers whose
// verdicts it records (sensitive, attack, behavior, conformance, risk).
// The Catalog is one trie of every host, updated by Observe under one
// lock (uncontended: stage two is one goroutine; views taken for reports
// and the admin API take it too); every decision it makes online (folding
// fold_max_literals values into their parameter, evicting the least
// valuable endpoint when a budget is reached, counting a probe on the
// nearest endpoint, remembering scanner clients) depends only on the
// order of updates, capture order in stage two, so a capture gives the
// same catalog for any number of workers.
//
// Views (View) derive templates from the trie without copying it: typed
// recognisers (integers, UUIDs, hex, dates, emails, phone numbers, opaque
// tokens, with representation extensions such as {sid}.json) make a
// segment a parameter value at once; evidence across siblings (counts,
// shapes, response schemas, shared sub-resources) folds literal values;
// an endpoint's statistics are merged from the trie's when it is rendered.
//
// Probes (payload syntax in the path; requests flagged as attacks or from
// scanner clients that got only errors) never make nodes (probe.go).
//
// Outputs: endpoint events (Catalog.Report: new and changed endpoints every
// report_interval on live sources, every endpoint at the end), the JSON
// catalog (View.WriteJSON), an OpenAPI 3.1 document (View.OpenAPI), and a
// spec merged with what was observed (View.MergeSpec, marked
// x-apitap-observed).
//
// Bounds: one endpoint budget for all hosts (max_endpoints, with
// least-valuable-first eviction), per-host shares, path positions, hosts,
// literal segments per node, table sizes per endpoint, schema nodes and
// interned names; whatever does not fit is counted (HostSummary,
// CatalogJSON) and never grows memory. No parameter value, header value or
// user name is stored: only names, types and counts (users and clients go
// into HyperLogLog sketches).
package discovery
