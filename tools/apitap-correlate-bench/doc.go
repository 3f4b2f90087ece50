// Command apitap-correlate-bench measures apitap correlate on an
// in-process Kafka-protocol broker (franz-go's kfake): throughput
// (observations per second through the processor group with the
// behaviour analyzer's detectors, one and two instances) and detection
// latency (wall time from producing the observation that crosses a
// credential-stuffing threshold to the central detection). Wall-clock
// numbers belong here, never in tests.
package main
