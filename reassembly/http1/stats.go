package http1

// ParseError is a reason an HTTP message broke the rules. It is a small
// integer so that counting it never allocates; String gives the metric label.
type ParseError uint8

const (
	ErrBadRequestLine      ParseError = iota // request line is not METHOD SP TARGET SP HTTP/1.x
	ErrBadStatusLine                         // status line is not HTTP/1.x SP NNN [SP reason]
	ErrBadHeader                             // a header field without a colon, with white space before it, or a bad name (field dropped)
	ErrHeaderTooLarge                        // message head longer than Limits.MaxHeaderBytes
	ErrTooManyHeaders                        // more fields than Limits.MaxHeaders (extra fields dropped)
	ErrBadChunk                              // malformed chunk size line or missing CRLF after chunk data
	ErrBadContentLength                      // Content-Length not a number, or several different values
	ErrConflictingLength                     // both Content-Length and Transfer-Encoding (Transfer-Encoding wins)
	ErrBadTransferEncoding                   // a request whose final transfer coding is not chunked
	ErrObsFold                               // obsolete line folding (replaced by spaces, as RFC 9112 allows)
	ErrPipelineOverflow                      // more pipelined requests than Limits.MaxPipelined (oldest reported unmatched)
	ErrBadStart                              // bytes where a message should start (the parser resynchronised)
	numParseErrors
)

// NumParseErrors is the number of ParseError values (for counter arrays).
const NumParseErrors = int(numParseErrors)

var parseErrorNames = [...]string{
	"bad_request_line", "bad_status_line", "bad_header", "header_too_large", "too_many_headers",
	"bad_chunk", "bad_content_length", "conflicting_length", "bad_transfer_encoding", "obs_fold",
	"pipeline_overflow", "bad_start",
}

func (e ParseError) String() string {
	if e < numParseErrors {
		return parseErrorNames[e]
	}
	return "unknown"
}

// Stats are counters of one owner (a reassembly worker): not safe for
// concurrent use.
type Stats struct {
	Requests, Responses, Exchanges uint64
	ParseErrors                    [NumParseErrors]uint64
	Resyncs                        uint64 // times a direction hunted for a new message start
	SkippedBytes                   uint64 // bytes thrown away while hunting
	BodyTruncated                  uint64 // bodies cut at MaxBodyBytes
	DecodeErrors                   uint64 // bodies whose Content-Encoding failed to decode
	BombsStopped                   uint64 // decompressions stopped by MaxDecodedRatio
	UnmatchedRequests              uint64
	UnmatchedResponses             uint64
	Upgrades                       uint64 // 101 and CONNECT tunnels
	// LostResponses counts requests found unanswered by timing: a later
	// request had started before the response that came (Conn.skipAnswered).
	LostResponses uint64
	// HeadsCut counts message heads reported cut short (by the end of the
	// connection or a gap: flag truncated); HeadsUnanswered the request
	// heads left unfinished on connections the server never answered
	// (not reported).
	HeadsCut, HeadsUnanswered uint64
}

// Add adds o to s.
func (s *Stats) Add(o *Stats) {
	s.Requests += o.Requests
	s.Responses += o.Responses
	s.Exchanges += o.Exchanges
	for i := range s.ParseErrors {
		s.ParseErrors[i] += o.ParseErrors[i]
	}
	s.Resyncs += o.Resyncs
	s.SkippedBytes += o.SkippedBytes
	s.BodyTruncated += o.BodyTruncated
	s.DecodeErrors += o.DecodeErrors
	s.BombsStopped += o.BombsStopped
	s.UnmatchedRequests += o.UnmatchedRequests
	s.UnmatchedResponses += o.UnmatchedResponses
	s.Upgrades += o.Upgrades
	s.LostResponses += o.LostResponses
	s.HeadsCut += o.HeadsCut
	s.HeadsUnanswered += o.HeadsUnanswered
}

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = 128
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 64 << 10
	}
	if l.MaxDecodedRatio <= 0 {
		l.MaxDecodedRatio = 100
	}
	if l.MaxPipelined <= 0 {
		l.MaxPipelined = 64
	}
	if l.MaxWireBody <= 0 {
		l.MaxWireBody = 1 << 40
	}
	return l
}
