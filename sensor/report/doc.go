// Package report renders apitap's HTML report: one self-contained file
// (inline CSS, JS and SVG; no external request) with summary figures, the
// API catalog as a tree by host and path with risk colours and badges,
// shadow and zombie endpoints, detections over time and by class, the top
// threat actors, sensitive data by endpoint and, with specs, conformance.
// `apitap report` writes it from captures; the running sensor serves the
// same view live on its admin port (/report?page=N), every page from one
// Snapshot rebuilt at most every 10 seconds.
//
// Size: the catalog tree shows one page of DefaultMaxEndpoints endpoints,
// the riskiest and busiest first (the figures count them all), and the
// lists of endpoints keep their first 500 rows, so a report stays a few
// megabytes whatever the size of the catalog.
//
// Everything it shows comes from the catalog, the detection log and the
// actor table, which hold only redacted values; html/template escapes
// every string (paths and hosts come from the traffic).
package report
