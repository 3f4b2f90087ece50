// Command apitap-correlate-bench measures apitap correlate on a
// Kafka-protocol broker: a kfakebroker process (-kfakebroker BIN), given
// brokers (-brokers, -broker-pid for its CPU time) or an in-process kfake.
// Throughput (observations per second through the processor group with
// the behaviour analyzer's detectors, one and two members): on a backlog
// published before the members start, and live, a producer process
// publishing at -live-rate; with the CPU time per observation of the
// members (getrusage), the broker and the producer (/proc). Detection
// latency: wall time from producing the observation that crosses a
// credential-stuffing threshold to the central detection. Wall-clock
// numbers belong here, never in tests.
package main
