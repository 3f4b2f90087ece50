// Package observation is the compact, versioned record of one transaction
// as stage two's cross-flow detectors read it: capture time, sensor, the
// flow order key, the client, pseudonymous actor keys, the endpoint
// template, status, sizes, latency, the login outcome and stage one's
// attack and sensitive verdicts. Sensors started with --observations
// publish one Record per transaction to the Kafka topic
// apitap.observations, keyed by actor (Key), and `apitap correlate` runs
// the detectors over the records of every sensor.
//
// A Record never holds a raw value: credentials, session cookies, tried
// usernames and non-numeric object ids are replaced by keyed hashes or
// the redacted identities detections already export, and the path is its
// template. The encoding (Append, Decode) is a version byte followed by
// varints and length-prefixed strings; Decode checks every length and
// bound, so hostile input is an error, never a crash (FuzzDecode).
//
// Pipeline position: a leaf (imports nothing of apitap): the behaviour
// analyzer fills and reads Records, the sensor publishes them, the
// correlator consumes them. Values are not shared between goroutines.
package observation
