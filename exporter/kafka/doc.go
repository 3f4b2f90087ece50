// Package kafka is apitap's Kafka sink (segmentio/kafka-go): events go to
// one topic per event type, keyed so that one actor's (or flow's,
// endpoint's) events stay in one partition and in order, with headers that
// carry the schema version, the sensor id and the event type. See README.md.
//
// Concurrency: Send is called from the exporter's goroutine for this sink.
package kafka
