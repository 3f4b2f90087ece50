package attack

import (
	"strconv"
	"strings"

	"github.com/apitap/apitap/reassembly"
)

// maxJSONDepth bounds the JSON nesting walked.
const maxJSONDepth = 32

// walkJSON calls fn for every object key (isKey) and every string or
// number value with its key, without building a document. Malformed JSON
// is walked up to the damage. Keys are views of b (see view).
func walkJSON(b []byte, fn func(key string, val []byte, isKey bool)) {
	var keys [maxJSONDepth]string
	var inObj [maxJSONDepth]bool
	depth := -1
	expectKey := false
	for i := 0; i < len(b); {
		switch c := b[i]; c {
		case '{', '[':
			if depth+1 < maxJSONDepth {
				depth++
				inObj[depth] = c == '{'
				if depth > 0 {
					keys[depth] = keys[depth-1]
				}
			}
			expectKey = c == '{'
			i++
		case '}', ']':
			if depth >= 0 {
				depth--
			}
			expectKey = false
			i++
		case ',':
			expectKey = depth >= 0 && inObj[depth]
			i++
		case '"':
			j := i + 1
			esc := false
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					esc = true
					j++
				}
				j++
			}
			if j >= len(b) {
				return
			}
			s := b[i+1 : j]
			if esc {
				if u, err := strconv.Unquote(string(b[i : j+1])); err == nil {
					s = []byte(u)
				}
			}
			i = j + 1
			if expectKey && depth >= 0 {
				keys[depth] = view(s) // fn copies what it keeps
				fn(keys[depth], nil, true)
				expectKey = false
				continue
			}
			k := ""
			if depth >= 0 {
				k = keys[depth]
			}
			fn(k, s, false)
		case ' ', '\t', '\r', '\n', ':':
			i++
		default:
			j := i
			for j < len(b) && !strings.ContainsRune(",}] \t\r\n:\"", rune(b[j])) {
				j++
			}
			if j == i {
				i++
				continue
			}
			k := ""
			if depth >= 0 {
				k = keys[depth]
			}
			if c == '-' || c >= '0' && c <= '9' {
				fn(k, b[i:j], false)
			}
			i = j
		}
	}
}

// Response signs that an attack worked, by class ("" = any class).
var successSigns = []struct {
	class, sign, why string
}{
	{"sqli", "you have an error in your sql syntax", "sql_error"}, {"sqli", "unclosed quotation mark", "sql_error"},
	{"sqli", "ora-0", "sql_error"}, {"sqli", "pg::syntaxerror", "sql_error"}, {"sqli", "sqlite3::", "sql_error"},
	{"sqli", "sqlstate[", "sql_error"}, {"sqli", "syntax error at or near", "sql_error"}, {"sqli", "mysql_fetch", "sql_error"},
	{"sqli", "odbc microsoft access driver", "sql_error"}, {"sqli", "sql server", "sql_error"},
	{"path_traversal", "root:x:0:0:", "file_contents"}, {"path_traversal", "[boot loader]", "file_contents"}, {"path_traversal", "; for 16-bit app support", "file_contents"},
	{"cmd_injection", "uid=", "command_output"}, {"cmd_injection", "root:x:0:0:", "command_output"},
	{"ssrf", "ami-id", "metadata_contents"}, {"ssrf", "computemetadata", "metadata_contents"}, {"ssrf", "iam/security-credentials", "metadata_contents"},
	{"xxe", "root:x:0:0:", "file_contents"},
	{"", "traceback (most recent call last)", "stack_trace"}, {"", "exception in thread", "stack_trace"}, {"", "at java.", "stack_trace"},
	{"", "goroutine 1 [running]", "stack_trace"}, {"", "<title>index of /", "directory_listing"}, {"", "whitelabel error page", "debug_page"},
	{"", "werkzeug debugger", "debug_page"}, {"", "django.core", "debug_page"}, {"", "stack trace:", "stack_trace"},
}

// responseEvidence looks at the response for signs an attack worked: an
// error or file contents typical of the class, the payload reflected
// (xss), or a 5xx answer to an injection.
func responseEvidence(tx *reassembly.Transaction, hits []hit) (bool, string) {
	resp := tx.Response
	if resp == nil {
		return false, ""
	}
	body := resp.Body.Data
	if len(body) > 16384 {
		body = body[:16384]
	}
	lb := strings.ToLower(string(body))
	for _, h := range hits {
		for _, s := range successSigns {
			if (s.class == "" || s.class == h.class) && strings.Contains(lb, s.sign) {
				return true, s.why
			}
		}
		if h.class == "xss" && len(h.value) >= 8 && strings.Contains(string(body), h.value) {
			return true, "payload_reflected"
		}
		if h.class == "ssti" && strings.Contains(h.value, "7*7") && strings.Contains(lb, "49") && !strings.Contains(lb, "7*7") {
			return true, "expression_evaluated"
		}
	}
	if resp.Status >= 500 {
		for _, h := range hits {
			switch h.class {
			case "sqli", "cmd_injection", "ssti", "nosqli", "xxe", "log4shell":
				return true, "server_error"
			}
		}
	}
	return false, ""
}
