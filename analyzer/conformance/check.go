package conformance

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/redact"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// templateOf is the catalog's online template of an unmatched path.
func templateOf(p string) string { return redact.Path(discovery.Template(p)) }

// check compares a matched transaction with its operation: parameters,
// headers, cookies, status, and (sampled) schemas and body fields.
// Names with payload syntax and flagged transactions (attacks) make no
// parameter or header findings and are not validated: they are attacks,
// not an API the spec forgot.
func (w *worker) check(tx *reassembly.Transaction, host string, op *Op, segs []string, flagged bool) {
	req, resp := tx.Request, tx.Response
	st := w.st
	for q := req.Query; q != "" && !flagged; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		name, _, _ := strings.Cut(kv, "=")
		if name == "" || discovery.ProbeSegment(name) {
			continue
		}
		if n := unescape(name); !op.query[n] {
			tx.Notes.Violations |= VParameter
			w.find(tx, host, op, &finding{class: "undocumented_parameter", severity: "low", rule: "not_in_spec", ev: event.Evidence{Location: "query", Name: safeName(n)}})
		}
	}
	for i := range req.Headers {
		h := &req.Headers[i]
		name := strings.ToLower(h.Name)
		if st.ignore[name] || op.header[name] {
			if name == "cookie" && st.cfg.CheckCookies && !flagged {
				w.cookies(tx, host, op, h.Value)
			}
			continue
		}
		if flagged || discovery.ProbeSegment(name) {
			continue
		}
		tx.Notes.Violations |= VHeader
		w.find(tx, host, op, &finding{class: "undocumented_header", severity: "info", rule: "not_in_spec", ev: event.Evidence{Location: "header", Name: safeName(name)}})
	}
	if resp != nil && resp.Status >= 100 && !op.documentsStatus(resp.Status) {
		tx.Notes.Violations |= VStatus
		sev := "low"
		if resp.Status >= 500 {
			sev = "medium"
		}
		w.find(tx, host, op, &finding{class: "undocumented_status", severity: sev, rule: "not_in_spec", ev: event.Evidence{Location: "response_header", Name: "status", Value: statusText(resp.Status)}})
	}
	if flagged {
		return
	}
	if n := op.validated.Add(1); n <= uint64(st.cfg.ValidateSamples) || n%uint64(st.cfg.ValidateEvery) == 0 {
		w.validate(tx, host, op, segs)
	}
}

func (w *worker) cookies(tx *reassembly.Transaction, host string, op *Op, v string) {
	for v != "" {
		var kv string
		kv, v, _ = strings.Cut(v, ";")
		name, _, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if name != "" && !op.cookie[name] && !discovery.ProbeSegment(name) {
			tx.Notes.Violations |= VParameter
			w.find(tx, host, op, &finding{class: "undocumented_parameter", severity: "low", rule: "not_in_spec", ev: event.Evidence{Location: "cookie", Name: safeName(name)}})
		}
	}
}

// safeName masks a name that looks like a value (?jane@example.com).
func safeName(n string) string {
	if redact.SensitiveValue(n) {
		return redact.Mask(n)
	}
	return boundedName(n)
}

// validate checks the request and response against the operation's
// schemas with kin-openapi's validator, and looks for body fields the
// schemas do not name.
func (w *worker) validate(tx *reassembly.Transaction, host string, op *Op, segs []string) {
	req, resp := tx.Request, tx.Response
	params := map[string]string{}
	op.Spec.root.params(segs, op.Method, params)
	hr := &http.Request{Method: op.Method, URL: &url.URL{Path: req.Path, RawQuery: req.Query}, Header: http.Header{}, Host: req.Host}
	for _, h := range req.Headers {
		hr.Header.Add(h.Name, h.Value)
	}
	hr.Body = io.NopCloser(bytes.NewReader(req.Body.Bytes()))
	hr.ContentLength = int64(len(req.Body.Bytes()))
	in := &openapi3filter.RequestValidationInput{
		Request: hr, PathParams: params,
		Route: &routers.Route{Spec: op.Spec.Doc, Path: op.Path, PathItem: op.PathItem, Method: op.Method, Operation: op.Operation},
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			ExcludeRequestBody: req.Body.Truncated || tx.Flags&http1.FlagTruncated != 0},
	}
	ctx := context.Background()
	for _, v := range violations(openapi3filter.ValidateRequest(ctx, in), false) {
		tx.Notes.Violations |= VSchema
		w.find(tx, host, op, &finding{class: "schema_violation", severity: "low", rule: "schema", ev: v})
	}
	if rb := op.Operation.RequestBody; rb != nil && rb.Value != nil && !req.Body.Truncated && len(req.Body.Bytes()) > 0 {
		if mt := rb.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			for _, f := range undocumentedFields(req.Body.Bytes(), mt.Schema.Value) {
				tx.Notes.Violations |= VParameter
				w.find(tx, host, op, &finding{class: "undocumented_parameter", severity: "low", rule: "not_in_schema", ev: event.Evidence{Location: "body", Name: safeName(f)}})
			}
		}
	}
	if resp == nil || resp.Status < 200 || resp.Body.Truncated || len(resp.Body.Bytes()) == 0 || !op.documentsStatus(resp.Status) {
		return
	}
	rh := http.Header{}
	for _, h := range resp.Headers {
		rh.Add(h.Name, h.Value)
	}
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.Status, Header: rh,
		Body: io.NopCloser(bytes.NewReader(resp.Body.Bytes())), Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}}
	for _, v := range violations(openapi3filter.ValidateResponse(ctx, rin), true) {
		tx.Notes.Violations |= VSchema
		w.find(tx, host, op, &finding{class: "schema_violation", severity: "medium", rule: "schema", ev: v})
	}
	if s := op.responseSchema(resp.Status); s != nil {
		for _, f := range undocumentedFields(resp.Body.Bytes(), s) {
			tx.Notes.Violations |= VParameter
			w.find(tx, host, op, &finding{class: "undocumented_parameter", severity: "info", rule: "not_in_schema", ev: event.Evidence{Location: "response_body", Name: safeName(f)}})
		}
	}
}

// violations turns validator errors into evidence: where (location and
// parameter name or JSON pointer) and a reason without the value.
func violations(err error, response bool) []event.Evidence {
	if err == nil {
		return nil
	}
	var out []event.Evidence
	var walk func(error)
	walk = func(err error) {
		var me openapi3.MultiError
		if errors.As(err, &me) {
			for _, e := range me {
				walk(e)
			}
			return
		}
		ev := event.Evidence{Location: "body", Rule: "schema"}
		if response {
			ev.Location = "response_body"
		}
		var re *openapi3filter.RequestError
		var pe *openapi3filter.ResponseError
		var se *openapi3.SchemaError
		switch {
		case errors.As(err, &re):
			if re.Parameter != nil {
				ev.Location, ev.Name = re.Parameter.In, re.Parameter.Name
			}
			ev.Value = re.Reason
		case errors.As(err, &pe):
			ev.Value = pe.Reason
		}
		var parse *openapi3filter.ParseError
		if errors.As(err, &parse) && parse.Reason != "" {
			ev.Value = "value is " + parse.Reason // never the value itself
		}
		if errors.As(err, &se) {
			if p := se.JSONPointer(); len(p) > 0 && ev.Name == "" {
				ev.Name = "/" + strings.Join(p, "/")
			}
			if se.Reason != "" {
				ev.Value = se.Reason
			}
		}
		if ev.Value == "" {
			ev.Value = "does not match the spec"
		}
		if ev.Name == "" && (ev.Location == "body" || ev.Location == "response_body") {
			ev.Name = "/"
		}
		if len(out) < 8 {
			ev.Value, ev.Name = cleanReason(ev.Value), safeName(ev.Name)
			out = append(out, ev)
		}
	}
	walk(err)
	return out
}

// cleanReason keeps a validator's reason short and masks anything in it
// that looks like a value (quoted strings from the traffic).
func cleanReason(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160]
	}
	words := strings.Fields(s)
	for i, w := range words {
		if redact.SensitiveValue(strings.Trim(w, `"',.:;()[]`)) {
			words[i] = redact.Mask(w)
		}
	}
	return strings.Join(words, " ")
}
