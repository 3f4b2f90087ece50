// Package discovery is the API discovery analyzer: it builds the runtime
// catalog of hosts and endpoints (path templates such as
// /v1/users/{userId}) with what each endpoint shows: parameters, headers,
// content types, inferred JSON schemas, status codes, authentication,
// consumers, usage by hour, latency, bytes and capture completeness.
//
// Pipeline position: it runs first in the analyzer chain. Each worker owns
// an Observer that records transactions into its own bounded trie (one
// mutex per worker, uncontended). The shared Catalog merges the workers'
// tries on demand into a View, where templates are decided from merged
// statistics: a path position whose literal segments are many and rarely
// repeated folds into a parameter; typed recognisers (integers, UUIDs,
// hex, dates, emails, phone numbers, opaque tokens) make a segment a
// parameter value at once. The View is deterministic for a given capture
// and worker count.
//
// Outputs: endpoint events (Catalog.Report: new and changed endpoints every
// report_interval on live sources, every endpoint at the end), the JSON
// catalog (View.JSON) and an OpenAPI 3.1 document (View.OpenAPI).
//
// Bounds: hosts per worker, endpoints and path nodes per host, literal
// segments per node, table sizes per endpoint and schema nodes; whatever
// does not fit is counted (HostSummary, CatalogJSON) and never grows memory.
// No parameter value, header value or user name is stored: only names,
// types and counts (users and clients go into HyperLogLog sketches).
package discovery
