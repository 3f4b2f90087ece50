package event

import (
	"strconv"

	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http2"
)

// appendH2 appends the "h2" object of an HTTP/2 transaction and, for a
// gRPC call, the "grpc" object.
func (e *Encoder) appendH2(dst []byte, s *http2.StreamInfo) []byte {
	dst = append(dst, `,"h2":{"stream_id":`...)
	dst = strconv.AppendUint(dst, uint64(s.ID), 10)
	if s.Flags&http2.FlagReset != 0 {
		dst = append(dst, `,"reset_code":`...)
		dst = AppendString(dst, s.ResetCode.String())
		dst = append(dst, `,"reset_by":"`...)
		if s.ResetByClient {
			dst = append(dst, "client"...)
		} else {
			dst = append(dst, "server"...)
		}
		dst = append(dst, '"')
	}
	if s.Unresolved > 0 {
		dst = append(dst, `,"unresolved_fields":`...)
		dst = strconv.AppendInt(dst, int64(s.Unresolved), 10)
	}
	if len(s.RequestTrailers) > 0 {
		dst = append(dst, `,"request_trailers":`...)
		dst = e.appendHeaderList(dst, s.RequestTrailers)
	}
	if len(s.ResponseTrailers) > 0 {
		dst = append(dst, `,"response_trailers":`...)
		dst = e.appendHeaderList(dst, s.ResponseTrailers)
	}
	dst = append(dst, '}')
	if g := s.GRPC; g != nil {
		dst = append(dst, `,"grpc":{"service":`...)
		dst = AppendString(dst, g.Service)
		dst = append(dst, `,"method":`...)
		dst = AppendString(dst, g.Method)
		dst = append(dst, `,"kind":"`...)
		dst = append(dst, g.Kind.String()...)
		dst = append(dst, `","kind_from_schema":`...)
		dst = strconv.AppendBool(dst, g.KindFromSchema)
		dst = append(dst, `,"request_messages":`...)
		dst = strconv.AppendInt(dst, int64(g.RequestMessages), 10)
		dst = append(dst, `,"response_messages":`...)
		dst = strconv.AppendInt(dst, int64(g.ResponseMessages), 10)
		if g.Status >= 0 {
			dst = append(dst, `,"status":`...)
			dst = strconv.AppendInt(dst, int64(g.Status), 10)
			dst = append(dst, `,"status_name":`...)
			dst = AppendString(dst, grpc.StatusName(g.Status))
		}
		if g.Message != "" {
			dst = append(dst, `,"message":`...)
			if redact.SensitiveValue(g.Message) {
				dst = AppendString(dst, redact.Mask(g.Message))
			} else {
				dst = AppendString(dst, g.Message)
			}
		}
		if g.Encoding != "" {
			dst = append(dst, `,"encoding":`...)
			dst = AppendString(dst, g.Encoding)
		}
		dst = append(dst, `,"decoded":"`...)
		dst = append(dst, grpc.DecodingNames[g.Decoded]...)
		dst = append(dst, '"')
		if g.Undecoded > 0 {
			dst = append(dst, `,"undecoded_messages":`...)
			dst = strconv.AppendInt(dst, int64(g.Undecoded), 10)
		}
		dst = append(dst, '}')
	}
	return dst
}

// appendH2Flags appends the HTTP/2 flags' names to a flags array that
// holds n names already.
func appendH2Flags(dst []byte, s *http2.StreamInfo, n int) []byte {
	if s == nil {
		return dst
	}
	for i, name := range http2.FlagNames {
		if s.Flags&(1<<i) != 0 {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = AppendString(dst, name)
		}
	}
	return dst
}
