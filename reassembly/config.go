package reassembly

import (
	"fmt"
	"time"

	"github.com/apitap/apitap/reassembly/http1"
)

// Config bounds the memory and time a Worker spends on TCP streams.
// Zero values take the defaults given in the field comments.
type Config struct {
	// MaxFlows is the number of concurrent TCP connections tracked by one
	// worker; new connections beyond it are ignored and counted
	// (drops{stage="reassembly_flows"}). Default 100000.
	MaxFlows int `yaml:"max_flows"`
	// MaxUnansweredFlows bounds, within MaxFlows, the connections that
	// only one side has spoken on (no packet from the other side yet:
	// spoofed sources, scans, floods). New one-sided connections beyond it
	// are not tracked (drops{stage="reassembly_unanswered"}), so they can
	// never take the place of answered ones. A connection whose pending
	// SYN is answered is never refused by this bound. Default MaxFlows/4.
	MaxUnansweredFlows int `yaml:"max_unanswered_flows"`
	// MaxBufferedBytes bounds out-of-order bytes held by one worker waiting
	// for missing segments. When reached, the oldest gap is skipped (the
	// stream resynchronises) and counted. Default 64 MiB.
	MaxBufferedBytes int `yaml:"max_buffered_bytes"`
	// MaxFlowBufferedBytes is the same bound for one connection. Default 1 MiB.
	MaxFlowBufferedBytes int `yaml:"max_flow_buffered_bytes"`
	// IdleTimeout closes connections that saw no packet for this long
	// (capture time). Default 90s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// GapTimeout is how long (capture time) a stream waits for a missing
	// segment before skipping it. Default 2s.
	GapTimeout time.Duration `yaml:"gap_timeout"`
	// HTTP bounds the HTTP/1.x parser (and the HTTP/2 one: header
	// blocks, header fields, kept body bytes, the buffer budget).
	HTTP HTTPConfig `yaml:"http"`
	// GRPC configures how gRPC messages are decoded.
	GRPC GRPCConfig `yaml:"grpc"`
	// WebSocket bounds the messages of upgraded connections.
	WebSocket WebSocketConfig `yaml:"websocket"`
}

// WebSocketConfig bounds WebSocket messages (package reassembly/websocket);
// inflation stops at http.max_decoded_ratio like HTTP bodies.
type WebSocketConfig struct {
	// MaxMessageBytes of a message's payload are kept (after inflation;
	// 4x that of a compressed message are held until it ends); longer
	// ones are cut (flag truncated). Default 65536, at most 64 MiB.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxMessagesPerConnection are reported per connection; later ones
	// are parsed as frames only and counted (stats.websocket
	// capped_messages). Default 100000.
	MaxMessagesPerConnection int `yaml:"max_messages_per_connection"`
}

// GRPCConfig configures gRPC decoding.
type GRPCConfig struct {
	// ProtoDescriptors is a protobuf FileDescriptorSet (protoc
	// --descriptor_set_out=FILE --include_imports): messages of the
	// methods it defines are decoded with field names; without it, by
	// field number (--proto-descriptors).
	ProtoDescriptors string `yaml:"proto_descriptors"`
}

// HTTPConfig is the YAML form of http1.Limits.
type HTTPConfig struct {
	MaxHeaderBytes  int `yaml:"max_header_bytes"`  // default 65536
	MaxHeaders      int `yaml:"max_headers"`       // default 128
	MaxBodyBytes    int `yaml:"max_body_bytes"`    // default 65536
	MaxDecodedRatio int `yaml:"max_decoded_ratio"` // default 100
	MaxPipelined    int `yaml:"max_pipelined"`     // default 64
	// MaxBufferedBytes bounds what the parsers of one worker hold at once:
	// incomplete message heads, kept bodies and bodies of pipelined
	// requests. Beyond it bodies are not kept (flag truncated) and heads
	// are dropped, counted as drops{stage="http_buffer"}. Default 256 MiB.
	MaxBufferedBytes int64 `yaml:"max_buffered_bytes"`
}

// pageBytes is the size of gopacket's reassembly pages.
const pageBytes = 1900

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.MaxFlows == 0 {
		c.MaxFlows = 100000
	}
	if c.MaxUnansweredFlows == 0 {
		c.MaxUnansweredFlows = max(1, c.MaxFlows/4)
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = 64 << 20
	}
	if c.MaxFlowBufferedBytes == 0 {
		c.MaxFlowBufferedBytes = 1 << 20
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 90 * time.Second
	}
	if c.GapTimeout == 0 {
		c.GapTimeout = 2 * time.Second
	}
	if c.WebSocket.MaxMessageBytes == 0 {
		c.WebSocket.MaxMessageBytes = 64 << 10
	}
	if c.WebSocket.MaxMessagesPerConnection == 0 {
		c.WebSocket.MaxMessagesPerConnection = 100000
	}
	h := &c.HTTP
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = 64 << 10
	}
	if h.MaxHeaders == 0 {
		h.MaxHeaders = 128
	}
	if h.MaxBodyBytes == 0 {
		h.MaxBodyBytes = 64 << 10
	}
	if h.MaxDecodedRatio == 0 {
		h.MaxDecodedRatio = 100
	}
	if h.MaxPipelined == 0 {
		h.MaxPipelined = 64
	}
	if h.MaxBufferedBytes == 0 {
		h.MaxBufferedBytes = 256 << 20
	}
	return c
}

// Validate reports the first impossible setting, naming its YAML key.
func (c Config) Validate() error {
	switch {
	case c.MaxFlows < 0:
		return fmt.Errorf("reassembly.max_flows must be positive, got %d", c.MaxFlows)
	case c.MaxUnansweredFlows < 0:
		return fmt.Errorf("reassembly.max_unanswered_flows must be positive, got %d", c.MaxUnansweredFlows)
	case c.MaxUnansweredFlows > c.MaxFlows && c.MaxFlows > 0:
		return fmt.Errorf("reassembly.max_unanswered_flows (%d) exceeds max_flows (%d)", c.MaxUnansweredFlows, c.MaxFlows)
	case c.MaxBufferedBytes < 0:
		return fmt.Errorf("reassembly.max_buffered_bytes must be positive, got %d", c.MaxBufferedBytes)
	case c.MaxFlowBufferedBytes < 0:
		return fmt.Errorf("reassembly.max_flow_buffered_bytes must be positive, got %d", c.MaxFlowBufferedBytes)
	case c.MaxFlowBufferedBytes > c.MaxBufferedBytes && c.MaxBufferedBytes > 0:
		return fmt.Errorf("reassembly.max_flow_buffered_bytes (%d) exceeds max_buffered_bytes (%d)", c.MaxFlowBufferedBytes, c.MaxBufferedBytes)
	case c.IdleTimeout < 0:
		return fmt.Errorf("reassembly.idle_timeout must be positive, got %s", c.IdleTimeout)
	case c.GapTimeout < 0:
		return fmt.Errorf("reassembly.gap_timeout must be positive, got %s", c.GapTimeout)
	case c.HTTP.MaxHeaderBytes < 0 || c.HTTP.MaxHeaders < 0 || c.HTTP.MaxBodyBytes < 0 || c.HTTP.MaxDecodedRatio < 0 || c.HTTP.MaxPipelined < 0 || c.HTTP.MaxBufferedBytes < 0:
		return fmt.Errorf("reassembly.http limits must be positive")
	case c.HTTP.MaxBodyBytes > 64<<20:
		return fmt.Errorf("reassembly.http.max_body_bytes must be at most 64 MiB, got %d", c.HTTP.MaxBodyBytes)
	case c.WebSocket.MaxMessageBytes < 0 || c.WebSocket.MaxMessagesPerConnection < 0:
		return fmt.Errorf("reassembly.websocket limits must be positive")
	case c.WebSocket.MaxMessageBytes > 64<<20:
		return fmt.Errorf("reassembly.websocket.max_message_bytes must be at most 64 MiB, got %d", c.WebSocket.MaxMessageBytes)
	case c.HTTP.MaxBufferedBytes > 0 && c.HTTP.MaxBufferedBytes < int64(c.HTTP.MaxHeaderBytes):
		return fmt.Errorf("reassembly.http.max_buffered_bytes (%d) is smaller than max_header_bytes (%d)", c.HTTP.MaxBufferedBytes, c.HTTP.MaxHeaderBytes)
	}
	return nil
}

// Limits converts the HTTP settings for the parser.
func (h HTTPConfig) Limits() http1.Limits {
	return http1.Limits{
		MaxHeaderBytes:  h.MaxHeaderBytes,
		MaxHeaders:      h.MaxHeaders,
		MaxBodyBytes:    h.MaxBodyBytes,
		MaxDecodedRatio: h.MaxDecodedRatio,
		MaxPipelined:    h.MaxPipelined,
	}
}
