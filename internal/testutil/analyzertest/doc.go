// Package analyzertest is the analyzers' test kit: a Collector that takes
// the detections an analyzer emits, a Tx builder for transactions with
// requests, responses, bodies and addresses, and Golden for golden files.
// Analyzer tests use it instead of writing their own emitters and
// transaction literals.
package analyzertest
