package attack

import (
	"strings"
	"unicode/utf8"

	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http1"
)

// scannerAgents are user agents of security tools.
var scannerAgents = []string{"sqlmap", "nikto", "nmap", "nuclei", "masscan", "zgrab", "dirbuster", "gobuster", "wpscan", "acunetix",
	"nessus", "openvas", "burp", "ffuf", "feroxbuster", "wfuzz", "hydra", "whatweb", "metasploit", "arachni", "w3af", "appscan",
	"netsparker", "qualys", "jaeles", "dirsearch", "zap/", "owasp", "commix", "xsstrike", "httpx", "interactsh"}

// probePaths are paths scanners request and APIs do not serve. Hidden
// files and directories (/.env, /.git/), system files and backups are
// requests for local files: path_traversal reports them (lfi.go).
var probePaths = []string{"/wp-login.php", "/wp-admin", "/xmlrpc.php", "/phpmyadmin", "/server-status", "/actuator/env", "/actuator/heapdump",
	"/cgi-bin/", "/hnap1", "/boaform", "/config.json", "/web.config", "/vendor/phpunit", "/solr/admin", "/console/", "/manager/html",
	"/shell.php"}

// probesBy are the probe paths by their lower-cased second byte, in the
// order of probePaths. A path can only start with a probe path (in
// either case) when its second byte is the probe path's in either case:
// the part of the path compared has as many bytes as the ASCII probe
// path, so no rune that folds to an ASCII letter but is longer fits.
var probesBy = func() (by [utf8.RuneSelf][]string) {
	for _, pp := range probePaths {
		c := lowerTab[pp[1]]
		by[c] = append(by[c], pp)
	}
	return by
}()

// scanner reports tool user agents and probe paths.
func (w *worker) scanner(tx *reassembly.Transaction) {
	ua := w.ua // the User-Agent, found by request
	tool, ok := w.agents[ua]
	if !ok {
		lua := strings.ToLower(ua)
		for _, a := range scannerAgents {
			if strings.Contains(lua, a) {
				tool = strings.Trim(a, "/")
				break
			}
		}
		if len(w.agents) >= 1024 {
			clear(w.agents)
		}
		w.agents[strings.Clone(ua)] = tool
	}
	if tool != "" {
		w.hits = append(w.hits, hit{class: "scanner", rule: "user_agent:" + tool, severity: "medium", action: "log", loc: "header", name: "User-Agent", value: ua})
		return
	}
	if !w.st.cfg.ScannerPaths {
		return
	}
	p := tx.Request.Path
	if len(p) < 2 || p[1] >= utf8.RuneSelf {
		return // every probe path is longer, and ASCII
	}
	for _, pp := range probesBy[lowerTab[p[1]]] {
		if len(p) >= len(pp) && strings.EqualFold(p[:len(pp)], pp) {
			w.hits = append(w.hits, hit{class: "scanner", rule: "probe_path:" + pp, severity: "low", action: "log", loc: "path", value: p})
			return
		}
	}
}

// smuggling looks for the framing ambiguities request smuggling needs:
// Content-Length with Transfer-Encoding, Content-Length twice with
// different values, or a Transfer-Encoding that is not exactly chunked.
//
// What the HTTP parser found ambiguous in the framing (flag
// request_smuggling: a framing header with whitespace before its colon,
// which it does not keep as a header) is reported too.
func (w *worker) smuggling(tx *reassembly.Transaction) {
	parser := tx.Flags&http1.FlagRequestSmuggling != 0
	if !w.framing {
		if parser {
			w.hits = append(w.hits, hit{class: "request_smuggling", rule: "parser:ambiguous_framing", severity: "high", action: "log", loc: "header", name: "Transfer-Encoding"})
		}
		return // the request has neither header (as the parser kept them)
	}
	var cl []string
	var te string
	for i := range tx.Request.Headers {
		h := &tx.Request.Headers[i]
		switch h.Known() { // (no other spelling of these names has their length)
		case http1.IDContentLength:
			cl = append(cl, strings.TrimSpace(h.Value))
		case http1.IDTransferEncoding:
			te += h.Value + ","
		}
	}
	rule := ""
	switch {
	case len(cl) > 0 && te != "":
		rule = "content_length_and_transfer_encoding"
	case len(cl) > 1 && cl[0] != cl[1]:
		rule = "conflicting_content_length"
	case te != "" && strings.ToLower(strings.TrimSuffix(strings.TrimSpace(te), ",")) != "chunked":
		rule = "obfuscated_transfer_encoding"
	}
	if rule == "" && tx.Flags&http1.FlagRequestSmuggling != 0 {
		rule = "parser:ambiguous_framing"
	}
	if rule == "" && parser {
		rule = "parser:ambiguous_framing"
	}
	if rule != "" {
		w.hits = append(w.hits, hit{class: "request_smuggling", rule: rule, severity: "high", action: "log", loc: "header", name: "Transfer-Encoding", value: te})
	}
}

// rulesCheck evaluates the rule packs.
func (w *worker) rulesCheck(tx *reassembly.Transaction) {
	w.scanner(tx)
	w.smuggling(tx)
	req := tx.Request
	rs := w.rs
	w.summarize(rs, req)
	for i := range rs.gates {
		if !w.passes(rs, i) {
			continue // the rule's literal is not there
		}
		w.matched = kv{"path", "", req.Path} // evidence when no condition names a value
		if r := rs.rules[i]; w.ruleMatches(r, tx) {
			m := w.matched // copied: body and decoded values are views of reused buffers
			w.hits = append(w.hits, hit{class: r.Class, rule: r.ID, severity: r.Severity, action: r.Action, loc: m.loc, name: strings.Clone(m.name), value: strings.Clone(m.value)})
		}
	}
}

func (w *worker) ruleMatches(r *Rule, tx *reassembly.Transaction) bool {
	for i := range r.Match.All {
		if !w.condition(&r.Match.All[i], tx) {
			return false
		}
	}
	if len(r.Match.Any) == 0 {
		return true
	}
	for i := range r.Match.Any {
		if w.condition(&r.Match.Any[i], tx) {
			return true
		}
	}
	return false
}

// hit remembers where a rule condition matched (the value a detection
// shows as evidence) and returns ok.
func (w *worker) hit(ok bool, loc, name, value string) bool {
	if ok {
		w.matched = kv{loc, name, value}
	}
	return ok
}

// condition tests one rule condition against the transaction's values
// (collected, decoded, by the detectors' walk).
func (w *worker) condition(c *Condition, tx *reassembly.Transaction) bool {
	req := tx.Request
	decoded := c.Decoded == nil || *c.Decoded
	switch c.Target {
	case "method":
		return c.test(req.Method)
	case "host":
		return c.test(req.Host)
	case "raw_path":
		return w.hit(c.test(req.Path), "path", "", req.Path)
	case "path":
		if !decoded {
			return w.hit(c.test(req.Path), "path", "", req.Path)
		}
		return w.hit(c.test(w.path), "path", "", w.path)
	case "body":
		return w.hit(c.test(view(req.Body.Bytes())), "body", "", view(req.Body.Bytes()))
	case "header":
		for i := range req.Headers {
			if h := &req.Headers[i]; c.named(h.Name) && c.test(h.Value) {
				return w.hit(true, "header", h.Name, h.Value)
			}
		}
		return false
	case "query_name":
		for i := range w.names {
			if n := &w.names[i]; n.loc == "query" && c.test(n.value) {
				return w.hit(true, "query", n.value, n.value)
			}
		}
		return false
	case "query", "any_value":
		if c.Target == "any_value" {
			for i := range req.Headers {
				if h := &req.Headers[i]; c.named(h.Name) && c.test(h.Value) {
					return w.hit(true, "header", h.Name, h.Value)
				}
			}
		}
		for i := range w.values {
			v := &w.values[i]
			if c.Target == "query" && v.loc != "query" {
				continue
			}
			if c.named(v.name) && c.test(v.value) {
				return w.hit(true, v.loc, v.name, v.value)
			}
		}
		return false
	case "json":
		last := c.Name[strings.LastIndexByte(c.Name, '/')+1:]
		for _, v := range w.values {
			if v.loc == "body" && v.name == last && c.test(v.value) {
				return w.hit(true, "body", c.Name, v.value)
			}
		}
		return false
	}
	return false
}
