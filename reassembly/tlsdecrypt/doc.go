// Package tlsdecrypt decrypts TLS connections seen on the wire with the
// session secrets of an NSS key log (the SSLKEYLOGFILE format written by
// browsers, curl and every OpenSSL or BoringSSL program given a keylog
// callback, and by Go's tls.Config.KeyLogWriter), so that a sensor on a
// mirror port can parse the HTTP inside.
//
// It sits inside reassembly: a reassembly worker recognises a TLS
// connection by its ClientHello and hands both directions' in-order bytes
// to a Conn, which frames records, follows the handshake (client and
// server randoms, version, cipher suite, ALPN), derives the traffic keys
// and hands each direction's application data, in order, to an Output (the
// HTTP/1.x or HTTP/2 parser).
//
// What it decrypts: TLS 1.2 with AES-GCM and ChaCha20-Poly1305 cipher
// suites (any key exchange: the key log's CLIENT_RANDOM line carries the
// master secret), keys derived with the TLS 1.2 PRF; TLS 1.3 with
// TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and
// TLS_CHACHA20_POLY1305_SHA256 from the handshake and application traffic
// secrets, following key updates. Other versions and suites (TLS 1.0/1.1,
// CBC, CCM) are counted as unsupported and stay fingerprinted only.
//
// Keys that arrive after the handshake: records that need a secret the key
// log does not hold yet are held (a bounded number of records and bytes
// per connection, and in total per worker) while the key log is re-read as
// it grows (KeyLog.Lookup re-reads it, at most every KeyLog's refresh
// interval, when a secret is missing); past KeyWait (capture time) or the
// bounds, the connection is given up and what was held is counted.
//
// Key material never leaves the process: the KeyLog keeps the secrets in
// memory only, Secrets prints as "[redacted]", nothing here logs, and no
// secret reaches an event or a metric.
//
// Lost bytes: a gap in a direction whose records are encrypted makes that
// direction hunt for the next record header and try the sequence numbers
// that follow (bounded), so one lost segment does not end the connection;
// a gap during the handshake does.
//
// Concurrency: a KeyLog is safe for concurrent use (the workers share
// one). A Conn belongs to one goroutine (its reassembly worker), as do the
// Stats it counts into.
package tlsdecrypt
