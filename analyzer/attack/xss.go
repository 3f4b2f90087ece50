package attack

import (
	"strings"

	"github.com/corazawaf/libinjection-go"
)

// Cross-site scripting. HTML in a value is read tag by tag: tags that
// run or load code (script, iframe, object, embed, svg, meta refresh,
// base, link, XML namespaced script...), event handler attributes on
// any tag, script URLs in URL attributes, style attributes and blocks
// that compute or bind. Outside tags: an event handler after a quote
// (an attribute breakout), script URLs as the whole value, UTF-7, and in
// values that are code rather than prose, the calls and objects
// payloads use (alert(, eval(, document.cookie, window["..."], JSFuck,
// template-literal calls, AngularJS constructor access). Rich text with
// the tags and attributes editors produce (p, a href, img src, style
// with colours) is not flagged; libinjection's verdict is taken only
// when the HTML is not such.

// safeTags are the tags of rich text.
var safeTags = set("p", "b", "i", "u", "em", "strong", "a", "img", "br", "hr", "ul", "ol", "li", "table", "tr", "td", "th", "thead", "tbody",
	"tfoot", "h1", "h2", "h3", "h4", "h5", "h6", "div", "span", "blockquote", "code", "pre", "small", "sup", "sub", "del", "ins", "mark",
	"abbr", "cite", "q", "s", "strike", "font", "center", "section", "article", "header", "footer", "nav", "figure", "figcaption",
	"caption", "dl", "dt", "dd", "label", "picture", "main", "aside", "time", "address", "kbd", "samp", "var", "wbr", "colgroup", "col",
	"big", "tt", "ruby", "rt", "rp", "bdi", "bdo", "summary", "hgroup")

// codeTags run or load code whatever their attributes.
var codeTags = set("script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "xml", "isindex", "vmlframe", "import",
	"noscript", "xmp", "plaintext", "listing", "portal", "bgsound", "layer", "ilayer", "xss", "handler", "template", "noembed", "html",
	"svg", "math", "animate", "set", "form", "meta", "link", "style", "body")

// urlAttrs carry URLs a browser loads or navigates to.
var urlAttrs = set("href", "src", "action", "formaction", "data", "xlink:href", "background", "lowsrc", "dynsrc", "poster", "codebase",
	"srcdoc", "code", "content", "to", "values", "from", "by")

// xssCheck is the XSS detector on v (lv in lower case).
func xssCheck(v, lv string, in input, prose bool) (bool, string, int) {
	if len(lv) > 4096 {
		v, lv = v[:4096], lv[:4096]
	}
	if rule, at := htmlTags(lv); rule != "" {
		return true, rule, at
	}
	// an event handler after a quote or at the start: " onmouseover=...
	if at := eventHandler(lv); at >= 0 {
		return true, "event_handler", at
	}
	for _, a := range [...]string{"formaction", "srcdoc", "xlink:href"} {
		if i := strings.Index(lv, a); i > 0 && strings.IndexByte(" \t\"'/", lv[i-1]) >= 0 && strings.HasPrefix(strings.TrimLeft(lv[i+len(a):], " "), "=") {
			return true, "attribute_" + a, i - 1
		}
	}
	if at := scriptURLIn(lv); at >= 0 {
		return true, "script_url", at
	}
	if i := strings.Index(lv, "adw-"); i > 0 && (lv[i-1] == '+' || lv[i-1] == ' ') && strings.Contains(lv[i:], "ad4-") {
		return true, "utf7", i - 1
	}
	// 7-bit stripping: ¼script¾ is <script> to a server that drops the
	// high bit
	if i := strings.IndexByte(lv, 0xbc); i >= 0 && strings.IndexByte(lv[i:], 0xbe) > 0 {
		s := sevenBit.Replace(lv)
		if rule, _ := htmlTags(s); rule != "" {
			return true, "ascii_stripping", i
		}
	}
	if i := strings.Index(lv, "constructor.constructor("); i >= 0 || strings.Contains(lv, "{{") && strings.Contains(lv, "$eval(") {
		return true, "client_template", max(i, 0)
	}
	if !prose {
		if rule, at := jsCode(lv); rule != "" {
			return true, rule, at
		}
	}
	if strings.IndexByte(v, '<') >= 0 && !richText(lv) && libinjection.IsXSS(v) {
		return true, "libinjection", strings.IndexByte(v, '<')
	}
	return false, "", 0
}

// sevenBit maps the quarter and three-quarter signs (Latin-1 and UTF-8)
// to the < and > they become when the high bit is dropped.
var sevenBit = strings.NewReplacer("\xc2\xbc", "<", "\xc2\xbe", ">", "\xbc", "<", "\xbe", ">")

// htmlTags reads the tags of lv.
func htmlTags(lv string) (string, int) {
	for i := strings.IndexByte(lv, '<'); i >= 0 && i < len(lv); {
		at := i
		j := i + 1
		for j < len(lv) && (lv[j] == ' ' || lv[j] == '/' || lv[j] == '\t' || lv[j] == '\n' || lv[j] == '?' || lv[j] == '%' || lv[j] == '!') {
			if lv[j] == '!' && strings.HasPrefix(lv[j:], "!--") {
				break
			}
			j++
		}
		k := j
		for k < len(lv) && (isAlnum(lv[k]) || lv[k] == ':' || lv[k] == '-' || lv[k] == '_') {
			k++
		}
		name := lv[j:k]
		if sp := spacedName(lv[j:]); sp != "" {
			return "tag_" + sp, at
		}
		if strings.HasSuffix(name, ":") { // < x: script
			m := k
			for m < len(lv) && lv[m] == ' ' {
				m++
			}
			e := m
			for e < len(lv) && isAlnum(lv[e]) {
				e++
			}
			name, k = lv[m:e], e
		}
		if c := strings.LastIndexByte(name, ':'); c >= 0 { // x:script, v:vmlframe
			name = name[c+1:]
		}
		end := strings.IndexByte(lv[k:], '>')
		tag := lv[k:]
		if end >= 0 {
			tag = lv[k : k+end]
		}
		if name != "" && (k == len(lv) || !isAlnum(lv[k])) {
			switch {
			case name == "script" || name == "iframe" || name == "frame" || name == "object" || name == "embed" || name == "applet" ||
				name == "vmlframe" || name == "isindex" || name == "frameset" || name == "portal" || name == "bgsound":
				return "tag_" + name, at
			case name == "meta" && (strings.Contains(tag, "http-equiv") || strings.Contains(tag, "charset")):
				return "tag_meta", at
			case name == "base" && strings.Contains(tag, "href") || name == "base" && end < 0:
				return "tag_base", at
			case name == "link" && (strings.Contains(tag, "href") || end < 0):
				return "tag_link", at
			case strings.HasPrefix(name, "import") && (strings.Contains(lv[k-len(name):], "implementation") || lv[i+1] == '?'):
				return "tag_import", at
			case name == "style" && (strings.Contains(lv[k:], "expression(") || strings.Contains(lv[k:], "@im") || strings.Contains(lv[k:], "binding") ||
				strings.Contains(lv[k:], "javascript:") || strings.Contains(lv[k:], "behavior:") || strings.Contains(lv[k:], "\\")):
				return "tag_style", at
			case (name == "svg" || name == "math" || name == "xml" || name == "html" || name == "noscript" || name == "template" || name == "noembed") && (end < 0 || strings.Contains(tag, "on") || strings.Contains(tag, "xmlns")):
				return "tag_" + name, at
			case name == "applet" || name == "xss":
				return "tag_" + name, at
			case name == "include" && strings.Contains(lv[j:k], "xi:") || strings.Contains(tag, "xmlns") && (strings.Contains(tag, "xinclude") || strings.Contains(tag, "xhtml")):
				return "xml_namespace", at
			}
			if r := tagAttrs(tag); r != "" {
				return r, at
			}
		}
		n := strings.IndexByte(lv[i+1:], '<')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	return "", 0
}

// spacedName reads a tag name spelt with blanks between its letters (<f
// o r m, <d i a l o g), an old filter bypass; "" when it is not one.
func spacedName(s string) string {
	var b [12]byte
	n := 0
	for i := 0; i < len(s) && n < len(b); i += 2 {
		if !(s[i] >= 'a' && s[i] <= 'z') {
			break
		}
		b[n] = s[i]
		n++
		if i+1 >= len(s) || s[i+1] != ' ' {
			break
		}
	}
	if n < 3 {
		return ""
	}
	name := string(b[:n])
	if codeTags[name] || name == "form" || name == "dialog" || name == "script" || name == "input" || name == "button" || name == "img" || name == "video" || name == "audio" {
		return name
	}
	return ""
}

// tagAttrs looks at the attributes of a tag: event handlers, script
// URLs, styles that compute.
func tagAttrs(tag string) string {
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c == ' ' || c == '/' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '\f' || c == '+') {
			continue
		}
		j := i + 1
		k := j
		for k < len(tag) && (isAlnum(tag[k]) || tag[k] == '-' || tag[k] == ':' || tag[k] == '_') {
			k++
		}
		attr := tag[j:k]
		m := k
		for m < len(tag) && (tag[m] == ' ' || tag[m] == '\t' || tag[m] == '\n') {
			m++
		}
		if attr == "" || m >= len(tag) || tag[m] != '=' {
			if strings.HasPrefix(attr, "on") && len(attr) > 4 && m >= len(tag) && k == len(tag) {
				return "event_handler" // <x onend (cut at the end)
			}
			continue
		}
		val := strings.TrimLeft(tag[m+1:], " \t\n\"'`")
		switch {
		case len(attr) > 4 && strings.HasPrefix(attr, "on"):
			return "event_handler"
		case urlAttrs[attr] && scriptScheme(val):
			return "script_url"
		case attr == "style" && (strings.Contains(val, "expression(") || strings.Contains(val, "javascript:") || strings.Contains(val, "behavior:") ||
			strings.Contains(val, "binding")):
			return "style_expression"
		case attr == "srcdoc" || attr == "language" && strings.Contains(val, "script"):
			return "attribute_" + attr
		}
		i = m
	}
	return ""
}

// scriptScheme says whether a URL is a script one (javascript:,
// vbscript:, data:text/html), with the blanks browsers skip removed.
func scriptScheme(lv string) bool {
	var b [24]byte
	n := 0
	for i := 0; i < len(lv) && n < len(b); i++ {
		if c := lv[i]; c > ' ' && c != '"' && c != '\'' {
			b[n] = c
			n++
		}
	}
	s := string(b[:n])
	return strings.HasPrefix(s, "javascript:") || strings.HasPrefix(s, "vbscript:") || strings.HasPrefix(s, "livescript:") ||
		strings.HasPrefix(s, "data:text/html") || strings.HasPrefix(s, "data:application/x-javascript") || strings.HasPrefix(s, "data:image/svg")
}

// scriptURLIn finds a script URL as the value, in a CSS url(), or after
// an attribute-like '=' or quote.
func scriptURLIn(lv string) int {
	if scriptScheme(lv) {
		return 0
	}
	// data: URIs whose content is markup: data:,<x>, data:text/plain,<svg
	if i := strings.Index(lv, "data:"); i >= 0 {
		if c := strings.IndexByte(lv[i:], ','); c > 0 && c < 40 && strings.HasPrefix(strings.TrimLeft(lv[i+c+1:], " "), "<") {
			return i
		}
	}
	for _, s := range [...]string{"javascript", "vbscript", "livescript", "data:text/html"} {
		for i := strings.Index(lv, s); i >= 0; {
			before := strings.TrimRight(lv[:i], " \t\n\r")
			if before == "" || strings.HasSuffix(before, "=") || strings.HasSuffix(before, "url(") || strings.HasSuffix(before, "\"") ||
				strings.HasSuffix(before, "'") || strings.HasSuffix(before, "(") {
				if scriptScheme(lv[i:]) || strings.HasSuffix(before, "url(") && s != "data:text/html" {
					return i
				}
			}
			j := strings.Index(lv[i+1:], s)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return -1
}

// eventHandler finds on<event>= outside a tag: after a quote, a blank or
// at the start (an attribute breakout, a parameter named so).
func eventHandler(lv string) int {
	for i := strings.Index(lv, "on"); i >= 0 && i < len(lv); {
		if i == 0 || strings.IndexByte(" \t\n\r\"'/;`+", lv[i-1]) >= 0 {
			j := i + 2
			for j < len(lv) && lv[j] >= 'a' && lv[j] <= 'z' {
				j++
			}
			k := j
			for k < len(lv) && (lv[k] == ' ' || lv[k] == '\t' || lv[k] == '\n') {
				k++
			}
			if j-i >= 5 && k < len(lv) && lv[k] == '=' && (k+1 == len(lv) || lv[k+1] != '=') && !commonOnWord(lv[i:j]) {
				rest := strings.TrimLeft(lv[k+1:], " \t\n")
				// a value that runs code, or nothing (the name alone)
				if rest == "" || strings.ContainsAny(rest[:min(len(rest), 40)], "(`[\"'.;") || k+1 < len(lv) && lv[k+1] == ' ' && rest != "" && isAlnum(rest[0]) {
					return max(i-1, 0)
				}
			}
		}
		n := strings.Index(lv[i+2:], "on")
		if n < 0 {
			break
		}
		i += 2 + n
	}
	return -1
}

// commonOnWord are words starting with "on" that are not events.
func commonOnWord(w string) bool {
	switch w {
	case "online", "only", "onto", "once", "ongoing", "onboarding", "onion", "onset", "onward", "onwards", "onboard", "onsite", "onramp":
		return true
	}
	return false
}

// jsCode finds the calls and objects of script payloads in a value that
// is code, not prose.
func jsCode(lv string) (string, int) {
	for _, f := range [...]string{"alert", "prompt", "confirm", "eval", "settimeout", "setinterval", "atob", "btoa", "execscript", "msgbox",
		"fromcharcode", "globaleval", "document.write", "document.writeln"} {
		for i := strings.Index(lv, f); i >= 0; {
			j := i + len(f)
			for j < len(lv) && lv[j] == ' ' {
				j++
			}
			if (i == 0 || !isWordByte(lv[i-1])) && j < len(lv) && (lv[j] == '(' || lv[j] == '`') {
				return "js_call", i
			}
			n := strings.Index(lv[i+1:], f)
			if n < 0 {
				break
			}
			i += 1 + n
		}
	}
	if i := strings.Index(lv, "function"); i >= 0 && strings.HasPrefix(strings.TrimLeft(lv[i+8:], " "), "(") && (i >= 4 && strings.HasSuffix(strings.TrimRight(lv[:i], " "), "new")) {
		return "js_call", i
	}
	if strings.Contains(lv, "![]") || strings.Contains(lv, "+[]") || strings.Contains(lv, "[][") {
		return "jsfuck", 0
	}
	// objects of the page: document.cookie, window["alert"], with
	// comments and blanks between the parts
	js := jsCompact(lv)
	for _, o := range [...]string{"document", "window", "self", "top", "parent", "globalthis", "frames", "opener", "this", "content"} {
		for i := strings.Index(js, o); i >= 0; {
			j := i + len(o)
			if j < len(js) && js[j] == ')' {
				j++
			}
			if (i == 0 || !isWordByte(js[i-1])) && j < len(js) {
				switch {
				case js[j] == '[' && j+1 < len(js) && (js[j+1] == '"' || js[j+1] == '\'' || js[j+1] == '`'):
					return "js_object", strings.Index(lv, o)
				case js[j] == '.' && (o == "document" || o == "window" || o == "top" || o == "self" || o == "parent"):
					for _, p := range [...]string{"cookie", "domain", "location", "write", "body", "createelement", "queryselector", "getelementby", "documentelement", "open(", "name", "execcommand"} {
						if strings.HasPrefix(js[j+1:], p) {
							return "js_object", strings.Index(lv, o)
						}
					}
				}
			}
			n := strings.Index(js[i+1:], o)
			if n < 0 {
				break
			}
			i += 1 + n
		}
	}
	// template-literal calls: [].sort.call`${alert}1`, Reflect.apply.call``
	if i := strings.Index(js, ".call`"); i >= 0 {
		return "js_template_call", 0
	}
	if strings.Contains(js, "location.href=") || strings.Contains(js, "location=") && strings.Contains(js, "javascript:") {
		return "js_object", 0
	}
	return "", 0
}

// jsCompact drops blanks and /* */ comments (document /*x*/ . cookie).
func jsCompact(lv string) string {
	if !strings.ContainsAny(lv, " \t\n/") {
		return lv
	}
	var b strings.Builder
	for i := 0; i < len(lv); i++ {
		c := lv[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c == '/' && i+1 < len(lv) && lv[i+1] == '*' {
			j := strings.Index(lv[i+2:], "*/")
			if j < 0 {
				break
			}
			i += 2 + j + 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// richText says whether the HTML of lv is only the tags and attributes
// of rich text (and entities), with nothing that runs code.
func richText(lv string) bool {
	for i := strings.IndexByte(lv, '<'); i >= 0 && i < len(lv); {
		j := i + 1
		if j < len(lv) && lv[j] == '/' {
			j++
		}
		k := j
		for k < len(lv) && isAlnum(lv[k]) {
			k++
		}
		if k == j {
			// "a < b": not a tag
		} else if !safeTags[lv[j:k]] {
			return false
		} else {
			end := strings.IndexByte(lv[k:], '>')
			if end < 0 {
				end = len(lv) - k
			}
			if tagAttrs(lv[k:k+end]) != "" {
				return false
			}
		}
		n := strings.IndexByte(lv[i+1:], '<')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	return true
}
