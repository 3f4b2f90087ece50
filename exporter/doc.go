// Package exporter carries events from the sensor to sinks (Kafka today;
// files and others as they land): the last stage of the pipeline.
//
// A FanOut gives every sink its own bounded queue and goroutine, so a slow
// or dead sink never blocks capture or the other sinks. When a queue is
// full, records are dropped and counted by sink and reason, except in
// blocking mode (offline reads), where the producer waits: a file can be
// read at the sinks' pace and nothing is lost.
//
// Concurrency: Add may be called from any goroutine (the sensor's workers);
// Close once, after the last Add.
package exporter
