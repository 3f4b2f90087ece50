package graphql

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/apitap/apitap/analyzer/graphql/gqlreq"
	"github.com/apitap/apitap/analyzer/sensitive"
	"github.com/apitap/apitap/reassembly"
)

// The note (reassembly.GraphQLNote) tells the analyzers after this one
// what a GraphQL request did as operations rather than as one HTTP
// request: how many operations it carried (batch elements and aliased
// repeats of a root field), the login attempts among them with their
// outcomes read from the response (per batch element, per alias), and
// for a batch the sensitive types of each element of the response array.
// It is made only for requests that carried more than one operation or a
// login; every other transaction keeps a nil note.

// maxNoteLogins bounds the logins noted per request.
const maxNoteLogins = 256

// loginFieldWords are what a login mutation's field name contains (lower
// case): login, logIn, signIn, sign_in, logon, authenticate, tokenAuth,
// createSession, obtainToken...
var loginFieldWords = []string{"login", "signin", "sign_in", "logon", "log_in", "authenticate", "tokenauth", "createsession", "obtaintoken", "createtoken", "generatetoken"}

// passwordKeys and userKeys name a login's password and username
// arguments (the last part of an argument or input field name, lower
// case; userKeys in order of preference, as the behaviour analyzer's
// user_fields default).
var (
	passwordKeys = []string{"password", "passwd", "pass", "pwd", "passphrase"}
	userKeys     = []string{"username", "user", "email", "login", "user_name", "account", "identifier"}
)

func loginField(name string) bool {
	l := strings.ToLower(name)
	for _, w := range loginFieldWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// note builds the transaction's note (nil when the request carried one
// operation and no login).
func (w *worker) note(tx *reassembly.Transaction, r *gqlreq.Request) *reassembly.GraphQLNote {
	ops := max(r.Batch, len(r.Ops))
	mutation := false
	for i := range r.Ops {
		o := &r.Ops[i]
		if extra := o.RootSelections - len(o.RootFields); extra > 0 {
			ops += extra
		}
		mutation = mutation || len(o.Roots) > 0
	}
	var logins []reassembly.GraphQLLogin
	if mutation {
		logins = w.logins(tx, r)
	}
	if ops <= 1 && len(logins) == 0 {
		return nil
	}
	n := &reassembly.GraphQLNote{Operations: ops, Logins: logins}
	if r.Batch > 1 {
		n.Sensitive = w.batchSensitive(tx, r.Batch)
	}
	return n
}

// element is one response object of a GraphQL answer.
type element struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
		Path    []any  `json:"path"`
	} `json:"errors"`
}

// elements splits a response body into its objects: a batch's array, or
// the one object (nil when it is neither).
func elements(b []byte) []json.RawMessage {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if b[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(b, &list) != nil {
			return nil
		}
		return list
	}
	if b[0] == '{' {
		return []json.RawMessage{b}
	}
	return nil
}

// batchSensitive scans each element of a batch's response array (n
// requests) for sensitive types: bit sets per element (an operation's is
// at its Index), nil when the array does not have one element per
// request or nothing was found. The sensitive analyzer scans response bodies in stage two, on
// a sample, so this scans the batch's elements itself (with the default
// types: custom types of the sensitive analyzer's configuration stay on
// the endpoint).
func (w *worker) batchSensitive(tx *reassembly.Transaction, n int) []uint64 {
	if tx.Response == nil {
		return nil
	}
	body := bytes.TrimSpace(tx.Response.Body.Bytes())
	if len(body) == 0 || body[0] != '[' {
		return nil
	}
	els := elements(body)
	if len(els) != n || len(els) < 2 {
		return nil
	}
	if w.scan == nil {
		w.scan = &sensitive.Scanner{}
	}
	out := make([]uint64, len(els))
	var any uint64
	for i, e := range els {
		var bits uint64
		w.scan.JSON(e, func(f *sensitive.Finding) { bits |= 1 << f.Type })
		out[i] = bits
		any |= bits
	}
	if any == 0 {
		return nil
	}
	return out
}

// logins lists the login attempts of r's mutations with their outcomes.
func (w *worker) logins(tx *reassembly.Transaction, r *gqlreq.Request) []reassembly.GraphQLLogin {
	var els []json.RawMessage
	status := 0
	if resp := tx.Response; resp != nil {
		status = resp.Status
		els = elements(resp.Body.Bytes())
	}
	var out []reassembly.GraphQLLogin
	for i := range r.Ops {
		o := &r.Ops[i]
		if len(o.Roots) == 0 {
			continue
		}
		var vars map[string]json.RawMessage
		varsRead := false
		var el *element
		if len(els) == r.Batch && o.Index < len(els) {
			el = &element{}
			if json.Unmarshal(els[o.Index], el) != nil {
				el = nil
			}
		}
		for _, root := range o.Roots {
			if !loginField(root.Name) || len(out) >= maxNoteLogins {
				continue
			}
			if !varsRead && len(o.VariablesJSON) > 0 {
				_ = json.Unmarshal(o.VariablesJSON, &vars) // unreadable variables: literals only
				varsRead = true
			}
			user, password := credentials(root.Args, vars)
			if !password {
				continue
			}
			l := reassembly.GraphQLLogin{User: user}
			l.Failed, l.Answer = outcome(el, root.Key, status, user)
			out = append(out, l)
		}
	}
	return out
}

// credentials reads a login field's username and whether it carried a
// password, from its arguments (literals, variables, input objects one
// level deep).
func credentials(args []gqlreq.Arg, vars map[string]json.RawMessage) (user string, password bool) {
	userRank := len(userKeys)
	see := func(name, value string) {
		if value == "" {
			return
		}
		last := strings.ToLower(name[strings.LastIndexByte(name, '.')+1:])
		for _, k := range passwordKeys {
			if last == k {
				password = true
				return
			}
		}
		for rank, k := range userKeys[:userRank] {
			if last == k {
				user, userRank = value, rank
				return
			}
		}
	}
	for _, a := range args {
		if a.Var == "" {
			see(a.Name, a.Value)
			continue
		}
		raw := bytes.TrimSpace(vars[a.Var])
		if len(raw) == 0 {
			continue
		}
		switch raw[0] {
		case '"':
			var s string
			if json.Unmarshal(raw, &s) == nil {
				see(a.Name, s)
			}
		case '{':
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &m) != nil {
				continue
			}
			for k, v := range m {
				var s string
				if json.Unmarshal(v, &s) == nil {
					see(a.Name+"."+k, s)
				}
			}
		}
	}
	user = strings.ToLower(strings.TrimSpace(user))
	if len(user) > 128 {
		user = user[:128]
	}
	return user, password
}

// failureWords in a login field's data say it failed anyway.
var failureWords = [][]byte{[]byte("invalid"), []byte("incorrect"), []byte("wrong"), []byte("denied"), []byte("unauthorized"), []byte(`"success":false`), []byte(`"ok":false`)}

// outcome reads the answer to the login field under key in the response
// element el (nil: no readable answer): failed when an error names the
// field (its path starts with key), when its data is null or missing, or
// says it failed. The answer class of a failure hashes the messages of
// the errors that name it (or its data) without the username and
// digits: what the server said about this username, which is what tells
// known from unknown users apart.
func outcome(el *element, key string, status int, user string) (bool, uint64) {
	if el == nil || status >= 400 {
		return true, answerClass(status, nil, user)
	}
	var msgs []byte
	failed := false
	for _, e := range el.Errors {
		// an error without a path is about the whole request: it fails
		// the field only through its null data, and says nothing of
		// this username (no answer class of its own)
		if len(e.Path) == 0 {
			continue
		}
		if s, _ := e.Path[0].(string); s == key {
			msgs = append(msgs, e.Message...)
			msgs = append(msgs, '\n')
		}
	}
	v := bytes.TrimSpace(el.Data[key])
	switch {
	case len(v) == 0 || string(v) == "null":
		failed = true
	case len(msgs) > 0:
		failed = true
	default:
		low := bytes.ToLower(v[:min(len(v), 512)])
		low = bytes.ReplaceAll(low, []byte(" "), nil)
		for _, f := range failureWords {
			if bytes.Contains(low, f) {
				failed = true
				msgs = v
				break
			}
		}
	}
	if !failed {
		return false, 0
	}
	return true, answerClass(status, msgs, user)
}

// answerClass hashes a failure's answer: status and message text, lower
// case, without the username (answers echo it) and digits.
func answerClass(status int, msg []byte, user string) uint64 {
	h := uint64(14695981039346656037) ^ uint64(status)
	low := bytes.ToLower(msg[:min(len(msg), 256)])
	if user != "" {
		low = bytes.ReplaceAll(low, []byte(user), nil)
	}
	for _, c := range low {
		if c >= '0' && c <= '9' {
			continue
		}
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
