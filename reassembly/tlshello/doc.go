// Package tlshello reads a TLS ClientHello from the first bytes a client
// sends on a connection and computes its JA4 fingerprint (FoxIO's JA4,
// the TLS client part: protocol, version, SNI presence, cipher and
// extension counts, first ALPN; hashes of the sorted cipher suites and of
// the sorted extensions with the signature algorithms). A passive sensor
// sees the handshake of HTTPS connections it cannot decrypt: the JA4 and
// the server name link a client across addresses.
//
// Parse never panics on hostile input (fuzzed) and allocates only the
// lists it returns.
package tlshello
