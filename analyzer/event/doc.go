// Package event defines apitap's events (CONTRACT.md) and encodes them as
// JSON lines. Analyzers and the sensor produce events; exporters write them.
//
// The encoder appends to a caller's buffer with strconv and a hand-written
// string escaper: no reflection and no allocation per event, and keys in a
// fixed order so that output is byte-for-byte deterministic. Every value
// taken from traffic that may be sensitive passes through package redact.
//
// Concurrency: an Encoder is not shared between goroutines (each worker has
// its own); the functions are otherwise pure.
package event
