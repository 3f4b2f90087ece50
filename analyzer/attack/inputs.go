package attack

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// maxJSONDepth bounds the JSON nesting walked.
const maxJSONDepth = 32

// walkJSON calls fn for every object key (isKey) and every string or
// number value with its key, without building a document. Malformed JSON
// is walked up to the damage. Keys are views of b (see view).
func walkJSON(b []byte, fn func(key string, val []byte, isKey bool)) { walkJSONBuf(b, nil, fn) }

// walkJSONBuf is walkJSON with a buffer for unescaped values (a value
// passed to fn is valid until fn returns; keys with escapes are copied).
func walkJSONBuf(b []byte, buf *[]byte, fn func(key string, val []byte, isKey bool)) {
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
				key := expectKey && depth >= 0
				if buf == nil || key {
					s = jsonUnescape(nil, s) // a key outlives this value
				} else {
					*buf = jsonUnescape((*buf)[:0], s)
					s = *buf
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

// jsonUnescape appends the JSON string content s, unescaped, to dst;
// a broken escape is kept as it is.
func jsonUnescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if i+4 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) && ishex(s[i+3]) && ishex(s[i+4]) {
				r := rune(unhex(s[i+1]))<<12 | rune(unhex(s[i+2]))<<8 | rune(unhex(s[i+3]))<<4 | rune(unhex(s[i+4]))
				i += 4
				if utf16.IsSurrogate(r) && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' && ishex(s[i+3]) && ishex(s[i+4]) && ishex(s[i+5]) && ishex(s[i+6]) {
					r2 := rune(unhex(s[i+3]))<<12 | rune(unhex(s[i+4]))<<8 | rune(unhex(s[i+5]))<<4 | rune(unhex(s[i+6]))
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					}
				}
				dst = utf8.AppendRune(dst, r)
				continue
			}
			dst = append(dst, '\\', 'u')
		default:
			dst = append(dst, '\\', s[i])
		}
	}
	return dst
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
	{"xpath_ldap_injection", "javax.naming.", "ldap_error"}, {"xpath_ldap_injection", "ldapexception", "ldap_error"},
	{"xpath_ldap_injection", "invalid dn syntax", "ldap_error"}, {"xpath_ldap_injection", "bad search filter", "ldap_error"},
	{"xpath_ldap_injection", "xpathexception", "xpath_error"}, {"xpath_ldap_injection", "simplexmlelement::xpath", "xpath_error"},
	{"xpath_ldap_injection", "invalid predicate", "xpath_error"}, {"xpath_ldap_injection", "xpath syntax error", "xpath_error"},
	{"deserialization", "invalidclassexception", "deserialization_error"}, {"deserialization", "java.io.objectinputstream", "deserialization_error"},
	{"deserialization", "streamcorruptedexception", "deserialization_error"}, {"deserialization", "unserialize()", "deserialization_error"},
	{"deserialization", "system.runtime.serialization", "deserialization_error"}, {"deserialization", "_pickle.unpicklingerror", "deserialization_error"},
	{"log4shell", "javax.naming.", "jndi_error"},
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
	body := resp.Body.Bytes()
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
	for _, h := range hits {
		switch h.class {
		case "open_redirect":
			// a redirect to where the parameter pointed
			if resp.Status >= 300 && resp.Status < 400 {
				loc := strings.ToLower(http1.Get(resp.Headers, http1.LookupHeader("location")))
				if t := redirectTarget(strings.ToLower(h.value)); t != "" && strings.Contains(loc, t) {
					return true, "redirected"
				}
			}
		case "crlf_injection":
			// a header the injected line set is in the response
			if name := injectedHeader(h.value); name != "" && http1.Get(resp.Headers, http1.LookupHeader(name)) != "" && name != "content-length" && name != "content-type" {
				return true, "header_set"
			}
		case "file_upload":
			// stored: the upload was accepted and its name is in the answer
			if resp.Status >= 200 && resp.Status < 300 && len(h.value) >= 4 && strings.Contains(lb, strings.ToLower(h.value)) {
				return true, "stored"
			}
		}
	}
	if resp.Status >= 500 {
		for _, h := range hits {
			switch h.class {
			case "sqli", "cmd_injection", "ssti", "nosqli", "xxe", "log4shell", "deserialization", "xpath_ldap_injection":
				return true, "server_error"
			}
		}
	}
	return false, ""
}

// redirectTarget is the host a redirect value points to ("" when it has
// none): //evil.example/x, https://trusted@evil.example.
func redirectTarget(v string) string {
	v = strings.TrimLeft(blanks.Replace(v), "/\\")
	if i := strings.Index(v, "://"); i >= 0 {
		v = strings.TrimLeft(v[i+3:], "/\\")
	} else if i := strings.IndexByte(v, ':'); i >= 0 && i < 8 {
		v = strings.TrimLeft(v[i+1:], "/\\")
	}
	if k := strings.IndexAny(v, "/?#\\"); k >= 0 {
		v = v[:k]
	}
	if k := strings.LastIndexByte(v, '@'); k >= 0 {
		v = v[k+1:]
	}
	return v
}

// injectedHeader is the name of the first header an injected line of v
// sets, lower case.
func injectedHeader(v string) string {
	for i := strings.IndexAny(v, "\r\n"); i >= 0 && i < len(v); {
		line := strings.TrimLeft(v[i:], "\r\n")
		if c := strings.IndexByte(line, ':'); c > 0 && c <= 40 && headerToken(strings.ToLower(line[:c])) {
			return strings.ToLower(line[:c])
		}
		j := strings.IndexAny(v[i+1:], "\r\n")
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return ""
}

// boundaryOf is the boundary parameter of a multipart content type.
func boundaryOf(ct string) string {
	i := strings.Index(strings.ToLower(ct), "boundary=")
	if i < 0 {
		return ""
	}
	b := ct[i+len("boundary="):]
	if j := strings.IndexByte(b, ';'); j >= 0 {
		b = b[:j]
	}
	b = strings.Trim(strings.TrimSpace(b), `"`)
	if len(b) > 200 {
		return ""
	}
	return b
}

// maxParts bounds the multipart parts examined.
const maxParts = 64

// multipart walks a multipart body: each part's field name, file name
// and content (by the part's own type), and uploads of files that run
// on the server. Parts are read leniently (LF or CRLF line ends, a
// missing final boundary), up to maxParts.
func (w *worker) multipart(body []byte, boundary string, depth int) {
	delim := "--" + boundary
	s := view(body)
	i := strings.Index(s, delim)
	for n := 0; i >= 0 && n < maxParts; n++ {
		s = s[i+len(delim):]
		if strings.HasPrefix(s, "--") {
			return
		}
		// the part's headers end at a blank line
		s = strings.TrimPrefix(strings.TrimPrefix(s, "\r"), "\n")
		end, skip := strings.Index(s, "\r\n\r\n"), 4
		if e2 := strings.Index(s, "\n\n"); e2 >= 0 && (end < 0 || e2 < end) {
			end, skip = e2, 2
		}
		if end < 0 {
			return
		}
		head := s[:end]
		s = s[end+skip:]
		i = strings.Index(s, delim)
		content := s
		if i >= 0 {
			content = s[:i]
		}
		content = strings.TrimSuffix(strings.TrimSuffix(content, "\n"), "\r")
		var name, filename, ctype string
		for _, line := range strings.Split(head, "\n") {
			line = strings.TrimRight(line, "\r")
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "content-disposition":
				name, filename = dispositionParam(v, "name"), dispositionParam(v, "filename")
			case "content-type":
				ctype = strings.TrimSpace(v)
			}
		}
		name = strings.Clone(name)
		in := input{loc: "body", name: name}
		w.key(in, name)
		if filename != "" {
			fin := input{loc: "body", name: "filename"}
			w.value(fin, filename, false)
			w.upload(name, filename, ctype, content)
			if strings.HasPrefix(strings.ToLower(ctype), "text/") || ctype == "" || strings.Contains(strings.ToLower(ctype), "json") || strings.Contains(strings.ToLower(ctype), "xml") {
				w.typedBody([]byte(content), ctype, name, depth+1)
			}
			continue
		}
		if ctype != "" {
			w.typedBody([]byte(content), ctype, name, depth+1)
			continue
		}
		w.value(input{loc: "body", name: name}, content, false)
	}
}

// dispositionParam is a parameter of a Content-Disposition value (name,
// filename), unquoted.
func dispositionParam(v, p string) string {
	lv := lowerASCII(v)
	for i := 0; ; {
		j := strings.Index(lv[i:], p+"=")
		if j < 0 {
			return ""
		}
		j += i
		if j > 0 && lv[j-1] != ' ' && lv[j-1] != ';' && lv[j-1] != '\t' {
			i = j + len(p)
			continue
		}
		rest := v[j+len(p)+1:]
		if strings.HasPrefix(rest, `"`) {
			if k := strings.IndexByte(rest[1:], '"'); k >= 0 {
				return rest[1 : 1+k]
			}
			return rest[1:]
		}
		if k := strings.IndexByte(rest, ';'); k >= 0 {
			rest = rest[:k]
		}
		return strings.TrimSpace(rest)
	}
}

// walkXML calls fn for the text of every element and the value of every
// attribute of an XML body, with the element or attribute name; it reads
// leniently up to the damage and does not resolve entities (the XXE
// detector looks at the declarations).
func walkXML(b []byte, fn func(name string, val []byte)) {
	var elem string
	n := 0
	for i := 0; i < len(b) && n < 4096; n++ {
		if b[i] != '<' {
			j := i
			for j < len(b) && b[j] != '<' {
				j++
			}
			if t := trimSpace(b[i:j]); len(t) > 0 && elem != "" {
				fn(elem, t)
			}
			i = j
			continue
		}
		// <!-- -->, <![CDATA[ ]]>, <? ?>, <!DOCTYPE>
		switch {
		case hasPrefix(b[i:], "<!--"):
			if k := indexOf(b[i:], "-->"); k >= 0 {
				i += k + 3
				continue
			}
			return
		case hasPrefix(b[i:], "<![CDATA["):
			k := indexOf(b[i:], "]]>")
			if k < 0 {
				k = len(b) - i
			}
			if t := trimSpace(b[i+9 : i+k]); len(t) > 0 {
				fn(elem, t)
			}
			i += k + 3
			continue
		}
		end := i + 1
		var q byte
		for end < len(b) && (b[end] != '>' || q != 0) {
			if q == 0 && (b[end] == '"' || b[end] == '\'') {
				q = b[end]
			} else if b[end] == q {
				q = 0
			}
			end++
		}
		tag := b[i+1 : min(end, len(b))]
		i = end + 1
		if len(tag) == 0 || tag[0] == '/' || tag[0] == '?' || tag[0] == '!' {
			continue
		}
		k := 0
		for k < len(tag) && tag[k] != ' ' && tag[k] != '/' && tag[k] != '\t' && tag[k] != '\n' && tag[k] != '\r' {
			k++
		}
		elem = view(tag[:k])
		// attributes: name="value"
		for a := tag[k:]; len(a) > 0; {
			eq := indexOf(a, "=")
			if eq < 0 {
				break
			}
			name := view(trimSpace(a[:eq]))
			rest := trimSpace(a[eq+1:])
			if len(rest) == 0 {
				break
			}
			if q := rest[0]; q == '"' || q == '\'' {
				e := 1
				for e < len(rest) && rest[e] != q {
					e++
				}
				fn(name, rest[1:e])
				a = rest[min(e+1, len(rest)):]
				continue
			}
			break
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && view(b[:len(p)]) == p }

func indexOf(b []byte, p string) int { return strings.Index(view(b), p) }
