// Package http1 is apitap's incremental HTTP/1.x parser: it sits inside
// reassembly, receives the in-order bytes of both directions of one TCP
// connection, and reports request/response exchanges.
//
// It parses in place: a message head that arrives whole inside one Data call
// is never copied except once, into the single string that all of the
// message's string fields (method, target, header names and values) are
// substrings of. Bodies stream through without buffering beyond the kept
// prefix (Limits.MaxBodyBytes), are de-chunked, and are decoded from gzip,
// deflate, br and zstd with a bound against decompression bombs. Requests
// are decoded when they end; a response body is decoded lazily, the first
// time someone reads it (Body.Bytes), so that bodies nobody reads cost no
// decompression (Body.Detach hands a pending body to a Decoder that
// outlives the callback).
//
// RFC 9112 framing: Content-Length, chunked (extensions, trailers) and
// close-delimited bodies; 1xx interim responses; HEAD, 204 and 304 without
// bodies; Upgrade (101) ends parsing for the connection; clear HTTP inside a
// CONNECT tunnel is parsed (TLS inside ends it); HTTP/0.9; pipelining pairs
// responses with requests in order. Lost bytes (Gap), a start in the middle
// of a connection (SetMidStream) and parse errors make a direction hunt for
// the next message start instead of corrupting later exchanges; a lost
// request keeps its place in line, and a response never answers a request
// when the next one started before it on a connection that does not
// pipeline (pair.go), so one hole does not shift the pairing.
//
// Start lines are read leniently, the way servers and Suricata's libhtp
// read them, and every departure from the RFC is flagged (lenient.go);
// framing that servers read differently is flagged request_smuggling;
// heads cut short (by the end, a gap or the size limit) are reported with
// what they hold.
//
// Each header carries the number of its name among about a hundred
// well-known ones (Header.ID, known.go), found once at parse time, so that
// analyzers classify headers by indexing tables instead of folding and
// hashing the name again each.
//
// Concurrency: a Conn is used by one goroutine (its reassembly worker). The
// Exchange passed to the Handler, and the byte slices inside it, are reused
// after the Handler returns; the strings are not and may be kept.
package http1
