package discovery

import (
	"maps"
	"slices"
	"strings"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/grpc"
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

// grpcStats is what the catalog knows of one gRPC method.
type grpcStats struct {
	service, method string
	kinds           [len(grpc.KindNames)]uint64 // calls by streaming kind
	fromSchema      uint64                      // calls whose kind came from the descriptor set
	reqMsgs         uint64
	respMsgs        uint64
	status          map[string]uint64 // calls by status name ("none": no status seen)
}

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

// addGRPC records the gRPC side of a call.
func (e *epStats) addGRPC(c *grpc.Call) {
	g := e.grpc
	if g == nil {
		g = &grpcStats{service: c.Service, method: c.Method}
		e.grpc = g
	}
	g.kinds[c.Kind&3]++
	if c.KindFromSchema {
		g.fromSchema++
	}
	g.reqMsgs += uint64(c.RequestMessages)
	g.respMsgs += uint64(c.ResponseMessages)
	name := grpc.StatusName(c.Status)
	if name == "" {
		name = "none"
	}
	var cut uint64
	countIn(&g.status, name, 1, 20, &cut)
}

func (e *epStats) mergeGRPC(o *epStats) {
	if o.grpc == nil {
		return
	}
	if e.grpc == nil {
		e.grpc = &grpcStats{service: o.grpc.service, method: o.grpc.method}
	}
	g, og := e.grpc, o.grpc
	for i, n := range og.kinds {
		g.kinds[i] += n
	}
	g.fromSchema += og.fromSchema
	g.reqMsgs += og.reqMsgs
	g.respMsgs += og.respMsgs
	mergeCounts(&g.status, og.status, 20, &e.cut)
}

func (g *grpcStats) json() *GRPCJSON {
	if g == nil {
		return nil
	}
	k := 0
	for i, n := range g.kinds {
		if n > g.kinds[k] {
			k = i
		}
	}
	j := &GRPCJSON{Service: g.service, Method: g.method, Kind: grpc.KindNames[k], KindFromSchema: g.fromSchema > 0,
		RequestMessages: g.reqMsgs, ResponseMessages: g.respMsgs, Status: map[string]uint64{}}
	for _, s := range slices.Sorted(maps.Keys(g.status)) {
		j.Status[s] = g.status[s]
	}
	return j
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
// JSON (by reassembly/grpc): schemas are inferred from them.
func renderedJSON(tx *reassembly.Transaction, body []byte) bool {
	return tx.Protocol == reassembly.ProtoGRPC && len(body) > 0 && (body[0] == '{' || body[0] == '[')
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
