package gqlreq

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Response summarises a GraphQL response (or, for a batch, all of them).
type Response struct {
	// DataFields are the root fields of data, sorted, unique (at most
	// MaxNames), with their JSON kinds ("object", "array", "string",
	// "number", "boolean", "null") as "field:kind".
	DataFields []string
	// Errors counts the errors; Suggestions says an error message
	// suggests field or type names ("Did you mean ...": the schema leaks
	// with introspection off); Verbose says an error carries internals
	// (stack traces, exception names, file paths, SQL).
	Errors      int
	Suggestions bool
	Verbose     bool
	// MessageID is the operation id of a GraphQL-over-WebSocket server
	// message (ParseMessageResponse): the subscription it answers.
	MessageID string
}

type respBody struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string          `json:"message"`
		Extensions json.RawMessage `json:"extensions"`
	} `json:"errors"`
}

// ParseResponse reads a GraphQL response body (an object or a batch); ok
// is false when it is not one.
func (p *Parser) ParseResponse(b []byte) (Response, bool) {
	var r Response
	b = bytes.TrimSpace(b)
	if len(b) == 0 || !bytes.Contains(b, []byte(`"data"`)) && !bytes.Contains(b, []byte(`"errors"`)) {
		return r, false
	}
	var list []respBody
	if b[0] == '[' {
		if json.Unmarshal(b, &list) != nil {
			return r, false
		}
	} else {
		var one respBody
		if json.Unmarshal(b, &one) != nil {
			return r, false
		}
		list = append(list, one)
	}
	seen := map[string]bool{}
	found := false
	for i := range list {
		rb := &list[i]
		if rb.Data != nil || rb.Errors != nil {
			found = true
		}
		for k, v := range rb.Data {
			seen[bound(k, 128)+":"+kind(v)] = true
		}
		r.Errors += len(rb.Errors)
		for _, e := range rb.Errors {
			if strings.Contains(e.Message, "Did you mean") {
				r.Suggestions = true
			}
			if verbose(e.Message) || verbose(string(e.Extensions)) {
				r.Verbose = true
			}
		}
	}
	if !found {
		return r, false
	}
	for k := range seen {
		r.DataFields = append(r.DataFields, k)
	}
	slices.Sort(r.DataFields)
	if len(r.DataFields) > p.lim.MaxNames {
		r.DataFields = r.DataFields[:p.lim.MaxNames]
	}
	return r, true
}

func kind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "null"
	}
	switch v[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// verboseMarks are what internals in an error look like.
var verboseMarks = []string{
	"stacktrace", "stack_trace", "\"stack\"", "exception", "traceback", "goroutine ", ".go:", ".java:", ".py\"", ".js:", "at com.", "at org.",
	"sqlstate", "syntax error at or near", "ora-0", "pq: ", "/usr/src/", "/home/", "node_modules",
}

func verbose(s string) bool {
	if s == "" {
		return false
	}
	l := strings.ToLower(s)
	for _, m := range verboseMarks {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

// ParseMessage reads a GraphQL-over-WebSocket client message: graphql-ws
// ("subscribe") or subscriptions-transport-ws ("start"), whose payload is
// a request object. It returns nil for other messages.
func (p *Parser) ParseMessage(b []byte) *Request {
	if !bytes.Contains(b, []byte(`"payload"`)) || !bytes.Contains(b, []byte(`"query"`)) && !bytes.Contains(b, []byte(`"persistedQuery"`)) {
		return nil
	}
	var m struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(b, &m) != nil || m.Type != "subscribe" && m.Type != "start" || len(m.Payload) == 0 {
		return nil
	}
	r := p.ParseJSON(m.Payload, ViaWebSocket)
	if r != nil {
		r.MessageID = bound(m.ID, 128)
	}
	return r
}

// ParseMessageResponse reads a server's GraphQL-over-WebSocket message
// ("next" or "data", with a response payload).
func (p *Parser) ParseMessageResponse(b []byte) (Response, bool) {
	if !bytes.Contains(b, []byte(`"payload"`)) {
		return Response{}, false
	}
	var m struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(b, &m) != nil || m.Type != "next" && m.Type != "data" {
		return Response{}, false
	}
	r, ok := p.ParseResponse(m.Payload)
	r.MessageID = bound(m.ID, 128)
	return r, ok
}
