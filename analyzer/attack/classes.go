package attack

import (
	"bytes"
	"strings"
)

// The classes besides the injections of the classic kinds: CRLF
// injection, open redirects, XPath and LDAP injection, deserialization.
// File uploads are found by the multipart walk (inputs.go) and evasion
// by the request walk (evasion.go).

// headerNames are response and request header names an injected line
// would set.
var headerNames = set("set-cookie", "location", "content-length", "content-type", "refresh", "content-disposition", "cache-control",
	"x-xss-protection", "access-control-allow-origin", "access-control-allow-credentials", "transfer-encoding", "connection", "host",
	"cookie", "authorization", "x-forwarded-for", "x-forwarded-host", "remote-addr", "x-real-ip", "link", "content-security-policy",
	"strict-transport-security", "server", "x-powered-by", "vary", "etag", "expires", "pragma", "status", "upgrade", "referer", "user-agent")

// crlfCheck finds a line break followed by what an injected line sets:
// a header (header injection), a status or request line or a document
// (response splitting), or a log line (log forging). v is normalised
// (decoded); JSON strings, multipart parts and text bodies have line
// breaks of their own and are only checked for injected headers and
// status lines.
func crlfCheck(v string, in input) (bool, string, int) {
	singleLine := in.loc != "body" || in.key
	for i := strings.IndexAny(v, "\r\n"); i >= 0 && i < len(v); {
		j := i
		for j < len(v) && (v[j] == '\r' || v[j] == '\n') {
			j++
		}
		line := v[j:]
		if k := strings.IndexAny(line, "\r\n"); k >= 0 {
			line = line[:k]
		}
		ll := strings.ToLower(line)
		if strings.HasPrefix(ll, "http/1.") || strings.HasPrefix(ll, "http/2") || requestLine(ll) {
			return true, "response_splitting", i
		}
		if c := strings.IndexByte(ll, ':'); c > 0 && c <= 40 {
			name := strings.TrimRight(ll[:c], " \r\t")
			if headerNames[name] || singleLine && headerToken(name) && (strings.HasPrefix(name, "x-") || c+1 < len(ll) && ll[c+1] == ' ') {
				return true, "header_injection", i
			}
		}
		doc := strings.HasPrefix(ll, "<html") || strings.HasPrefix(ll, "<script") || strings.HasPrefix(ll, "<!doctype")
		if doc && strings.Contains(v[i:j], "\r\n\r\n") {
			return true, "response_splitting", i // a blank line ends a head: a document follows
		}
		if !singleLine && logEntry(ll) {
			return true, "log_forging", i
		}
		if singleLine {
			if doc {
				return true, "response_splitting", i
			}
			if logLine(ll) {
				return true, "log_forging", i
			}
			if in.loc == "path" || in.key {
				return true, "line_break", i
			}
		}
		n := strings.IndexAny(v[j:], "\r\n")
		if n < 0 {
			break
		}
		i = j + n
	}
	return false, "", 0
}

// requestLine says whether a line is an HTTP request line.
func requestLine(ll string) bool {
	sp := strings.IndexByte(ll, ' ')
	if sp < 3 || sp > 7 {
		return false
	}
	switch ll[:sp] {
	case "get", "post", "head", "put", "delete", "options", "patch", "trace", "connect":
		return strings.Contains(ll, " http/")
	}
	return false
}

// headerToken says whether s is a header field name.
func headerToken(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(isAlnum(s[i]) || s[i] == '-' || s[i] == '_') {
			return false
		}
	}
	return true
}

// logEntry says whether a line starts the way a log entry does: a date
// and a time, or a bracketed timestamp, then a level. Multi-line text
// (a JSON string, a text body) has line breaks of its own, and only a
// forged entry starts a line so.
func logEntry(ll string) bool {
	t := strings.TrimLeft(ll, "[")
	if len(t) < 19 || !isDigits(t[:4]) || t[4] != '-' || !isDigits(t[5:7]) || !(t[10] == ' ' || t[10] == 't') || !isDigits(t[11:13]) || t[13] != ':' {
		return false
	}
	rest := strings.TrimLeft(t[16:], "0123456789:.,+-z] ")
	for _, l := range [...]string{"info", "warn", "error", "debug", "fatal", "notice", "critical", "trace", "audit"} {
		if strings.HasPrefix(rest, l) {
			return true
		}
	}
	return false
}

// logLine says whether a line looks like the start of a log entry: a
// date or time, a level, an address and a dash, or key=value pairs
// about users and logins.
func logLine(ll string) bool {
	t := strings.TrimLeft(ll, " [")
	if len(t) >= 8 && isDigits(t[:4]) && (t[4] == '-' || t[4] == '/') || len(t) >= 8 && isDigits(t[:2]) && t[2] == ':' && isDigits(t[3:5]) {
		return true
	}
	for _, l := range [...]string{"info", "warn", "warning", "error", "debug", "fatal", "notice", "critical", "trace", "audit", "success", "failed", "denied"} {
		if strings.HasPrefix(t, l) && len(t) > len(l) && strings.IndexByte(" :]-|", t[len(l)]) >= 0 {
			return true
		}
	}
	if sp := strings.IndexByte(t, ' '); sp >= 7 {
		if _, ok := parseHostIP(t[:sp]); ok && strings.HasPrefix(t[sp:], " - ") {
			return true
		}
	}
	for _, k := range [...]string{"user=", "username=", "login=", "status=", "level=", "msg=", "event=", "action=", "ip="} {
		if strings.HasPrefix(t, k) || strings.Contains(t, " "+k) {
			return true
		}
	}
	for _, w := range [...]string{"logged in", "login succe", "login fail", "authenticated", "password changed", "access granted", "user admin", "admin logged"} {
		if strings.Contains(t, w) {
			return true
		}
	}
	return false
}

// redirectParams are parameter names whose value a server redirects to.
var redirectParams = set("redirect", "redirect_url", "redirecturl", "redirect_to", "redirectto", "redir", "return", "returnto", "return_to",
	"returnurl", "return_url", "returnpath", "next", "nexturl", "next_url", "continue", "dest", "destination", "goto", "target", "rurl",
	"forward", "forward_url", "out", "to", "url", "u", "r", "success_url", "failure_url", "cancel_url", "checkout_url", "back", "backurl",
	"back_url", "location", "go", "link", "view", "exit", "ref", "origin", "redirect_uri", "callback", "callback_url", "login_url", "logout")

// offsiteParams are redirect parameters whose value names another site
// by design (OAuth clients, webhooks, links): only the tricks count there.
var offsiteParams = set("redirect_uri", "callback", "callback_url", "origin", "ref", "link", "url", "u", "to", "out", "location", "view",
	"target", "success_url", "failure_url", "cancel_url", "checkout_url", "go", "exit", "logout", "login_url")

// redirectName says whether a parameter name is a redirect's.
func redirectName(name string) bool {
	if len(name) == 0 || len(name) > 24 {
		return false
	}
	var b [24]byte
	n := copy(b[:], name)
	for i := 0; i < n; i++ {
		b[i] = lowerTab[b[i]]
	}
	if redirectParams[string(b[:n])] {
		return true
	}
	// the last part after a separator, trimmed as strings.Trim(l[i:],
	// "._-[]") would (without making a string of the name)
	i := bytes.LastIndexAny(b[:n], ".[_-")
	if i < 0 {
		return false
	}
	return redirectParams[string(bytes.Trim(b[i:n], "._-[]"))]
}

// redirectCheck finds a redirect parameter whose value leaves the site:
// protocol-relative and backslash forms (//evil, /\evil, \\evil,
// /%09/evil), a trusted-looking user part before the real host
// (https://example.com@evil), or an absolute URL to another domain than
// the request's (for parameters that are not OAuth or webhook callbacks).
func redirectCheck(lv string, in input, host string) (bool, string, int) {
	if in.key || in.loc == "header" || in.loc == "path" {
		return false, "", 0
	}
	name := strings.ToLower(in.name)
	if i := strings.LastIndexAny(name, ".[_-"); i >= 0 && !redirectParams[name] {
		name = strings.Trim(name[i:], "._-[]")
	}
	if !redirectParams[name] {
		return false, "", 0
	}
	v := strings.TrimLeft(lv, " \t\r\n\x00")
	// //evil.com, /\evil.com, \/\/evil.com, /%09/evil.com, ///evil.com
	w := blanks.Replace(v)
	if len(w) > 2 && (w[0] == '/' || w[0] == '\\') && (w[1] == '/' || w[1] == '\\') && w[2] != '/' || strings.HasPrefix(w, "///") && len(w) > 3 && w[3] != '/' {
		return true, "protocol_relative", 0
	}
	scheme, rest, ok := strings.Cut(w, ":")
	if !ok || (scheme != "http" && scheme != "https") {
		return false, "", 0
	}
	if strings.HasPrefix(rest, "/\\") || strings.HasPrefix(rest, "\\") || !strings.HasPrefix(rest, "//") {
		return true, "scheme_confusion", 0
	}
	target := rest[2:]
	if k := strings.IndexAny(target, "/?#\\"); k >= 0 {
		target = target[:k]
	}
	if at := strings.LastIndexByte(target, '@'); at >= 0 {
		if user := target[:at]; strings.IndexByte(user, '.') > 0 {
			return true, "userinfo_confusion", 0
		}
		target = target[at+1:]
	}
	if k := strings.LastIndexByte(target, ':'); k >= 0 && !strings.HasSuffix(target, "]") {
		target = target[:k]
	}
	if offsiteParams[name] || host == "" || target == "" {
		return false, "", 0
	}
	if siteOf(target) != siteOf(strings.ToLower(host)) {
		return true, "external_url", 0
	}
	return false, "", 0
}

// blanks removes what browsers skip in a URL's start.
var blanks = strings.NewReplacer("\t", "", "\r", "", "\n", "", " ", "")

// siteOf is the last two labels of a host name (the site it belongs to,
// near enough without the public suffix list), without a port.
func siteOf(h string) string {
	if k := strings.LastIndexByte(h, ':'); k >= 0 && strings.Count(h, ":") == 1 {
		h = h[:k]
	}
	h = strings.TrimSuffix(h, ".")
	i := strings.LastIndexByte(h, '.')
	if i < 0 {
		return h
	}
	if j := strings.LastIndexByte(h[:i], '.'); j >= 0 {
		return h[j+1:]
	}
	return h
}

// xpathLDAPCheck finds LDAP filter injection ()( with an attribute
// test, *)(, )(|) and XPath injection (axes, node tests and the
// functions blind extraction uses).
func xpathLDAPCheck(lv string) (bool, string, int) {
	for i := strings.Index(lv, ")"); i >= 0 && i < len(lv); {
		j := i + 1
		for j < len(lv) && (lv[j] == ' ' || lv[j] == '\t') {
			j++
		}
		if j < len(lv) && lv[j] == '(' {
			k := j + 1
			for k < len(lv) && strings.IndexByte(" \t|&!(", lv[k]) >= 0 {
				k++
			}
			m := k
			for m < len(lv) && (isAlnum(lv[m]) || lv[m] == '-' || lv[m] == '.' || lv[m] == ';') {
				m++
			}
			ops := lv[j+1 : k]
			if m > k && m < len(lv) && (lv[m] == '=' || m+1 < len(lv) && strings.IndexByte("~<>", lv[m]) >= 0 && lv[m+1] == '=') {
				return true, "ldap_filter", i
			}
			if strings.ContainsAny(ops, "|&!") && (k >= len(lv) || lv[k] == ')' || lv[k] == '(') {
				return true, "ldap_filter", i
			}
		}
		n := strings.IndexByte(lv[i+1:], ')')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	if strings.HasPrefix(lv, "*)(") || strings.Contains(lv, "(objectclass=") || strings.Contains(lv, "(|(uid=") {
		return true, "ldap_filter", 0
	}
	for _, p := range [...]string{"child::", "descendant::", "ancestor::", "following-sibling::", "preceding-sibling::", "self::node()",
		"count(/", "name(/", "string-length(name(", "substring(name(", "' or name()", "' and name()", "/child::node()", "text()='", "position()=", "//*[", "count(//"} {
		if i := strings.Index(lv, p); i >= 0 {
			return true, "xpath", i
		}
	}
	return false, "", 0
}

// deserCheck finds serialized objects of the formats that run code when
// read (Java, .NET BinaryFormatter and type-named JSON, PHP, Python
// pickle, YAML tags, node-serialize) and the gadget classes of known
// chains.
func deserCheck(v, lv string) (bool, string, int) {
	if deserNeedles.any(lv) {
		for _, p := range deserPatterns {
			if i := strings.Index(lv, p.s); i >= 0 {
				if p.rule == "python_pickle" && p.s[0] == 'g' && (i > 0 && lv[i-1] != '"' && lv[i-1] != '=' && lv[i-1] != ' ' || !opaque(v)) {
					continue
				}
				if p.s == "ro0ab" && i > 0 && isAlnum(lv[i-1]) && !strings.HasPrefix(v[i:], "rO0AB") {
					continue
				}
				return true, p.rule, i
			}
		}
	}
	// "@type" / "$type" naming a class (Fastjson, Json.NET)
	for _, k := range [...]string{"\"@type\"", "\"$type\""} {
		if i := strings.Index(lv, k); i >= 0 {
			rest := strings.TrimLeft(lv[i+len(k):], " :")
			if strings.HasPrefix(rest, "\"") && strings.Count(rest[:min(len(rest), 80)], ".") >= 2 {
				return true, "typed_json", i
			}
		}
	}
	// PHP: O:8:"stdClass":1:{s:..., a:2:{i:0;O:...}, C:11:"ArrayObject":...
	if at := phpSerialized(lv); at >= 0 {
		return true, "php_object", at
	}
	return false, "", 0
}

// deserPatterns are the markers of serialized objects and gadget
// classes, with their rules.
var deserPatterns = []struct{ s, rule string }{
	{"\xac\xed\x00\x05", "java_serialized"}, {"ro0ab", "java_serialized"}, {"aced0005", "java_serialized"},
	{"aaeaaad/////", "dotnet_binaryformatter"}, {"typeconfusedelegate", "dotnet_gadget"}, {"objectdataprovider", "dotnet_gadget"},
	{"activitysurrogateselector", "dotnet_gadget"}, {"textformattingrunproperties", "dotnet_gadget"}, {"system.windows.data", "dotnet_gadget"},
	{"system.diagnostics.process", "dotnet_gadget"}, {"windowsidentity", "dotnet_gadget"}, {"expandedwrapper", "dotnet_gadget"},
	{"!!python/", "yaml_tag"}, {"!!javax.", "yaml_tag"}, {"!!java.", "yaml_tag"}, {"!!com.sun.", "yaml_tag"}, {"!!org.", "yaml_tag"},
	{"!ruby/object", "yaml_tag"}, {"!ruby/hash", "yaml_tag"}, {"!!ruby/", "yaml_tag"}, {"_$$nd_func$$_", "node_serialize"},
	{"cos\nsystem", "python_pickle"}, {"cposix\nsystem", "python_pickle"}, {"c__builtin__\n", "python_pickle"}, {"cbuiltins\n", "python_pickle"},
	{"csubprocess\n", "python_pickle"}, {"gaswl", "python_pickle"}, {"gasv", "python_pickle"},
	{"invokertransformer", "java_gadget"}, {"chainedtransformer", "java_gadget"}, {"instantiatetransformer", "java_gadget"},
	{"constanttransformer", "java_gadget"}, {"clonetransformer", "java_gadget"}, {"forclosure", "java_gadget"},
	{"instantiatefactory", "java_gadget"}, {"prototypeclonefactory", "java_gadget"}, {"prototypeserializationfactory", "java_gadget"},
	{"whileclosure", "java_gadget"}, {"templatesimpl", "java_gadget"}, {"jdbcrowsetimpl", "java_gadget"}, {"scriptenginemanager", "java_gadget"},
	{"urlclassloader", "java_gadget"}, {"java.lang.runtime", "java_gadget"}, {"java.lang.processbuilder", "java_gadget"},
	{"processbuilder", "java_gadget"}, {"org.apache.commons.collections", "java_gadget"}, {"org.codehaus.groovy.runtime", "java_gadget"},
	{"com.mchange.v2.c3p0", "java_gadget"}, {"bsh.interpreter", "java_gadget"}, {"ysoserial", "java_gadget"}, {"java.rmi.", "java_gadget"},
	{"javax.naming.", "java_gadget"}, {"com.sun.org.apache", "java_gadget"}, {"org.springframework.beans.factory", "java_gadget"},
	{"java.lang.reflect", "java_gadget"}, {"java.lang.class", "java_gadget"}, {"java.runtime", "java_gadget"}, {"java.processbuilder", "java_gadget"},
	{"runtime.getruntime", "java_gadget"}, {"com.opensymphony.xwork2", "java_gadget"}, {"org.apache.struts2", "java_gadget"},
	{"java.beans.xmldecoder", "java_gadget"}, {"java.io.objectinputstream", "java_gadget"}, {"phar://", "php_phar"},
}

// deserNeedles finds whether any of deserPatterns occurs, in one pass.
var deserNeedles = func() *needles {
	var l []string
	for _, p := range deserPatterns {
		l = append(l, p.s)
	}
	return newNeedles(l...)
}()

// phpSerialized finds a PHP serialized object or array: O:<n>:"<class>":<n>:{
// (C: for custom serialization) or a:<n>:{ followed by a key (i: or s:);
// -1 when there is none.
func phpSerialized(lv string) int {
	for i := 0; i+4 < len(lv); i++ {
		c := lv[i]
		if c != 'o' && c != 'c' && c != 'a' || lv[i+1] != ':' || i > 0 && isAlnum(lv[i-1]) {
			continue
		}
		j := i + 2
		for j < len(lv) && lv[j] >= '0' && lv[j] <= '9' {
			j++
		}
		if j == i+2 || j >= len(lv) || lv[j] != ':' {
			continue
		}
		rest := lv[j+1:]
		if c == 'a' {
			if strings.HasPrefix(rest, "{i:") || strings.HasPrefix(rest, "{s:") || strings.HasPrefix(rest, "{}") {
				return i
			}
			continue
		}
		// "class":<n>:{
		if len(rest) < 2 || rest[0] != '"' {
			continue
		}
		q := strings.IndexByte(rest[1:], '"')
		if q < 1 || q > 128 {
			continue
		}
		tail := rest[q+2:]
		if len(tail) > 2 && tail[0] == ':' {
			k := 1
			for k < len(tail) && tail[k] >= '0' && tail[k] <= '9' {
				k++
			}
			if k > 1 && strings.HasPrefix(tail[k:], ":{") {
				return i
			}
		}
	}
	return -1
}
