// Package websocket parses the frames of WebSocket connections (RFC 6455)
// into messages, in both directions.
//
// It sits beside package http1 in reassembly: once an HTTP/1.x exchange
// upgrades a connection to WebSocket (101 Switching Protocols with
// Upgrade: websocket), the reassembler hands the connection's further
// bytes to a Conn instead of the HTTP parser. A connection joined in the
// middle (its handshake was not captured) is recognised by the shape of
// its frames (Sniff) and parsed from the first frame boundary found.
//
// A Conn unmasks client frames, reassembles fragmented messages, reads
// control frames (close codes and reasons; pings and pongs are counted,
// not reported) and inflates permessage-deflate messages (RFC 7692), with
// or without context takeover: with it, the sliding window of each
// direction is kept from one message to the next, which needs the
// connection's messages from its start (a connection joined in the middle
// can not inflate them: counted as decode errors).
//
// Bounds: a message keeps at most Limits.MaxMessageBytes of payload (the
// rest is counted and the message flagged truncated), compressed bytes
// held per message are bounded by Limits.MaxCompressedBytes, inflation
// stops at Limits.MaxDecodedRatio times the compressed size, and the
// context-takeover window is 32 KiB per direction. Everything a bound
// drops is counted in Stats.
//
// Concurrency: a Conn belongs to the reassembly worker that owns its TCP
// connection (one goroutine). Messages are handed to the Handler
// synchronously; their Data is valid only during the call.
package websocket
