package http2

import (
	xh2 "golang.org/x/net/http2"

	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
)

// Start says how a connection became HTTP/2.
type Start uint8

const (
	StartPreface   Start = iota // prior knowledge (h2c): the client sent the connection preface
	StartUpgrade                // HTTP/1.1 "Upgrade: h2c" answered 101; the request is stream 1
	StartALPN                   // TLS that negotiated "h2", fed as plaintext after decryption
	StartMidStream              // the capture joined the connection mid-stream: frames found by their shape
	numStarts
)

// StartNames name the starts, as stats write them.
var StartNames = [numStarts]string{"preface", "upgrade", "alpn", "mid_stream"}

func (s Start) String() string {
	if s < numStarts {
		return StartNames[s]
	}
	return "unknown"
}

// Flags are what happened to a stream beyond http1.Flags (which HTTP/2
// streams carry too: truncated, gap, mid_stream_start, unmatched_*,
// parse_error, decode_error, headers_truncated).
type Flags uint8

const (
	FlagReset             Flags = 1 << iota // RST_STREAM ended the stream (StreamInfo.ResetCode says why)
	FlagRefused                             // the server refused the stream (REFUSED_STREAM, or a GOAWAY below its id): it was not processed
	FlagPush                                // a server push: the request is the one the server promised (PUSH_PROMISE)
	FlagHeadersUnresolved                   // header fields referred to HPACK entries from before the capture joined: their values are unknown
)

// FlagNames lists the flag names in bit order, as they appear in events.
var FlagNames = [...]string{"reset", "refused", "push", "headers_unresolved"}

// StreamInfo is what an HTTP/2 stream adds to its exchange.
type StreamInfo struct {
	ID    uint32
	Flags Flags
	// ResetCode is the RST_STREAM error code (with FlagReset), sent by
	// the client when ResetByClient.
	ResetCode     xh2.ErrCode
	ResetByClient bool
	// Unresolved counts the header fields (trailers included) whose name
	// or value referred to HPACK entries from before the join; they are
	// not in the Headers.
	Unresolved int
	// Trailers are the header fields after the body (grpc-status...).
	// They are valid during the callback only (the slice; the strings
	// may be kept).
	RequestTrailers, ResponseTrailers []http1.Header
	// GRPC is the call when the stream carried gRPC (content type
	// application/grpc), else nil.
	GRPC *grpc.Call
}

// Exchange is one stream as a request/response exchange.
type Exchange struct {
	http1.Exchange
	Stream StreamInfo
}

// Handler receives completed streams (see Exchange for lifetimes).
type Handler func(ex *Exchange)

// Stats count what the Conns of one owner (a reassembly worker) did: not
// safe for concurrent use.
type Stats struct {
	Conns       [numStarts]uint64 // connections parsed as HTTP/2, by how they started
	Frames      uint64
	FrameErrors uint64 // frames that broke RFC 9113 in a way that lost their content (skipped)
	Resyncs     uint64 // times a direction hunted for a frame boundary (mid-stream start, lost bytes)
	// SkippedBytes were thrown away while hunting.
	SkippedBytes uint64
	Streams      uint64 // streams reported
	// StreamsHeadless are streams whose header blocks were all missed
	// (they began before the capture joined and ended without a
	// response): not reported.
	StreamsHeadless uint64
	// StreamsEvicted were reported early (flag truncated) because more
	// than MaxStreams were open on their connection.
	StreamsEvicted uint64
	Flags          [len(FlagNames)]uint64 // reported streams carrying each flag
	// HeaderFields counts decoded header fields, FieldsUnresolved those
	// whose name or value referred to a dynamic-table entry from before
	// the join (or from before lost bytes).
	HeaderFields, FieldsUnresolved uint64
	// LatePaths counts requests on connections whose start was not
	// captured, LatePathsUnresolved those of them whose :path could not
	// be resolved (it referred to an entry from before the join).
	LatePaths, LatePathsUnresolved uint64
	HPACKErrors                    uint64 // header blocks that did not decode (the table was then given up)
	TableResets                    uint64 // HPACK tables given up after lost bytes or a broken block (late-join mode from there)
	TableSizeCapped                uint64 // dynamic table size updates above 64 KiB (capped)
	// Quality counts closed connections by the share of their header
	// fields that resolved: all, at least 90%, at least 50%, less.
	Quality [4]uint64
	GRPC    grpc.Stats
}

// QualityNames name the Quality buckets.
var QualityNames = [4]string{"full", "over_90", "over_50", "under_50"}

// Add adds o to s.
func (s *Stats) Add(o *Stats) {
	for i := range s.Conns {
		s.Conns[i] += o.Conns[i]
	}
	s.Frames += o.Frames
	s.FrameErrors += o.FrameErrors
	s.Resyncs += o.Resyncs
	s.SkippedBytes += o.SkippedBytes
	s.Streams += o.Streams
	s.StreamsHeadless += o.StreamsHeadless
	s.StreamsEvicted += o.StreamsEvicted
	for i := range s.Flags {
		s.Flags[i] += o.Flags[i]
	}
	s.HeaderFields += o.HeaderFields
	s.FieldsUnresolved += o.FieldsUnresolved
	s.LatePaths += o.LatePaths
	s.LatePathsUnresolved += o.LatePathsUnresolved
	s.HPACKErrors += o.HPACKErrors
	s.TableResets += o.TableResets
	s.TableSizeCapped += o.TableSizeCapped
	for i := range s.Quality {
		s.Quality[i] += o.Quality[i]
	}
	s.GRPC.Add(&o.GRPC)
}

// Counts lists the counters by name (for stats events and metrics).
func (s *Stats) Counts(fn func(name string, n uint64)) {
	for i, n := range s.Conns {
		fn("connections_"+StartNames[i], n)
	}
	fn("frames", s.Frames)
	fn("frame_errors", s.FrameErrors)
	fn("resyncs", s.Resyncs)
	fn("skipped_bytes", s.SkippedBytes)
	fn("streams", s.Streams)
	fn("streams_headless", s.StreamsHeadless)
	fn("streams_evicted", s.StreamsEvicted)
	fn("header_fields", s.HeaderFields)
	fn("header_fields_unresolved", s.FieldsUnresolved)
	fn("late_paths", s.LatePaths)
	fn("late_paths_unresolved", s.LatePathsUnresolved)
	fn("hpack_errors", s.HPACKErrors)
	fn("hpack_table_resets", s.TableResets)
	fn("hpack_table_size_capped", s.TableSizeCapped)
	for i, n := range s.Quality {
		fn("decode_quality_"+QualityNames[i], n)
	}
	g := &s.GRPC
	fn("grpc_calls", g.Calls)
	fn("grpc_calls_with_schema", g.WithSchema)
	fn("grpc_status_errors", g.StatusErrors)
	fn("grpc_messages", g.Messages)
	fn("grpc_messages_rendered", g.Rendered)
	fn("grpc_messages_undecoded", g.Undecoded)
	fn("grpc_messages_compressed", g.Compressed)
}
