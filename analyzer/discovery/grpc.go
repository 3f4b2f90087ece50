package discovery

import (
	"strings"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/grpc"
	"github.com/apitap/apitap/reassembly/http1"
)

// gRPC in the catalog. A gRPC method is an endpoint like any other: host
// (the :authority), method POST and its path /package.Service/Method,
// whose segments stay literal (they are never folded into a parameter).
// What the endpoint adds is the "grpc" object below; request and response
// schemas are inferred from the messages rendered as JSON (field names
// with a descriptor set, field numbers without one). The OpenAPI export
// writes a gRPC method as a POST operation on its path with content type
// application/grpc, the service as its tag and an x-grpc extension
// (service, method, streaming kind).

// maxGRPCStatus bounds the gRPC status codes counted per endpoint.
const maxGRPCStatus = 20

// GRPCJSON is the gRPC side of an endpoint.
type GRPCJSON struct {
	Service string `json:"service"`
	Method  string `json:"method"`
	// Kind is the streaming kind of most calls: unary, client_streaming,
	// server_streaming or bidi_streaming; KindFromSchema says it came
	// from the descriptor set rather than from the message counts.
	Kind             string            `json:"kind"`
	KindFromSchema   bool              `json:"kind_from_schema"`
	RequestMessages  uint64            `json:"request_messages"`
	ResponseMessages uint64            `json:"response_messages"`
	Status           map[string]uint64 `json:"status"`
}

// recordH2 counts what an HTTP/2 stream adds to an endpoint's call: the
// transport, and the gRPC side of a gRPC call (kind, messages, status,
// service and method names).
func (t *trie) recordH2(ep *epStats, tx *reassembly.Transaction) {
	if tx.H2 == nil {
		return
	}
	ep.t.add(tMisc, miscH2, 1, 0)
	c := tx.H2.GRPC
	if c == nil {
		return
	}
	ep.t.add(tMisc, miscGRPC, 1, 0)
	ep.t.add(tGRPCKind, uint32(c.Kind&3), 1, 0)
	if c.KindFromSchema {
		ep.t.add(tMisc, miscGRPCSchema, 1, 0)
	}
	if c.RequestMessages > 0 {
		ep.t.add(tMisc, miscGRPCReqMsgs, uint64(c.RequestMessages), 0)
	}
	if c.ResponseMessages > 0 {
		ep.t.add(tMisc, miscGRPCRespMsgs, uint64(c.ResponseMessages), 0)
	}
	ep.count(tGRPCStatus, uint32(min(max(c.Status+1, 0), tallyKeyMask)), 1)
	if c.Service != "" {
		ep.count(tGRPCService, t.names.id(c.Service), 1)
	}
	if c.Method != "" {
		ep.count(tGRPCMethod, t.names.id(c.Method), 1)
	}
}

// renderGRPC fills the gRPC side of an endpoint (nil when none of its
// calls was gRPC).
func (st *epStats) renderGRPC(j *EndpointJSON, in *names) {
	t := st.t
	j.Transport.HTTP2 = t.get(tMisc, miscH2)
	j.Transport.GRPC = t.get(tMisc, miscGRPC)
	if j.Transport.GRPC == 0 {
		return
	}
	// the busiest kind and names (a folded sibling may add others)
	busiest := func(table int) (key uint32, ok bool) {
		var best uint64
		t.each(table, func(k uint32, n uint64) {
			if n > best {
				key, best, ok = k, n, true
			}
		})
		return
	}
	g := &GRPCJSON{KindFromSchema: t.get(tMisc, miscGRPCSchema) > 0, RequestMessages: t.get(tMisc, miscGRPCReqMsgs),
		ResponseMessages: t.get(tMisc, miscGRPCRespMsgs), Status: map[string]uint64{}}
	k, _ := busiest(tGRPCKind)
	g.Kind = grpc.KindNames[k&3]
	if k, ok := busiest(tGRPCService); ok {
		g.Service = in.name(k)
	}
	if k, ok := busiest(tGRPCMethod); ok {
		g.Method = in.name(k)
	}
	t.each(tGRPCStatus, func(k uint32, n uint64) {
		name := "none"
		if k > 0 {
			name = grpc.StatusName(int(k) - 1)
		}
		g.Status[name] += n
	})
	j.GRPC = g
}

// grpcShaped reports whether a path looks like a gRPC method,
// /package.Service/Method: two segments of letters, digits, '_' and
// (in the first) dots, the service's last name and the method starting
// with an upper-case letter, as the gRPC style guide names them.
func grpcShaped(p string) bool {
	svc, m, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !ok || len(p) < 5 || p[0] != '/' || m == "" || strings.IndexByte(svc, '.') < 0 {
		return false
	}
	last := svc[strings.LastIndexByte(svc, '.')+1:]
	if last == "" || last[0] < 'A' || last[0] > 'Z' || m[0] < 'A' || m[0] > 'Z' {
		return false
	}
	return identChars(svc, true) && identChars(m, false)
}

// identChars reports whether s holds only letters, digits, '_' and, with
// dots, '.'.
func identChars(s string, dots bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || dots && c == '.') {
			return false
		}
	}
	return true
}

// renderedJSON reports whether a body of tx is gRPC messages rendered as
// JSON (by reassembly/grpc): schemas are inferred from them. The body is
// read (and so decoded, if pending) only for gRPC.
func renderedJSON(tx *reassembly.Transaction, body *http1.Body) bool {
	if tx.Protocol != reassembly.ProtoGRPC {
		return false
	}
	b := body.Bytes()
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// grpcOperation completes an OpenAPI operation for a gRPC method.
func grpcOperation(op obj, j *EndpointJSON) {
	g := j.GRPC
	op["tags"] = []any{g.Service}
	op["x-grpc"] = obj{"service": g.Service, "method": g.Method, "kind": g.Kind, "kind_from_schema": g.KindFromSchema, "status": g.Status}
	op["summary"] = "gRPC " + g.Service + "/" + g.Method + " (" + g.Kind + ")"
	body := obj{}
	if j.RequestSchema != nil {
		body["schema"] = j.RequestSchema
	}
	op["requestBody"] = obj{"content": obj{"application/grpc": body}, "description": "protobuf messages (length-prefixed); the schema is inferred from them rendered as JSON"}
	if r, ok := op["responses"].(obj); ok {
		for code, v := range r {
			resp, _ := v.(obj)
			if s, ok := j.ResponseSchemas[code]; ok && resp != nil {
				resp["content"] = obj{"application/grpc": obj{"schema": s}}
			}
		}
	}
}
