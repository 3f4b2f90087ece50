package attack

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/apitap/apitap/analyzer/event"
)

// starter is the rule pack shipped with apitap (well-known API-facing CVEs).
//
//go:embed rules/*.yaml
var starter embed.FS

// RulePack is the YAML of a rule file.
type RulePack struct {
	Rules []Rule `yaml:"rules"`
}

// Rule is one signature: conditions on the request, all of which (and any
// one of the `any` list, when given) must hold.
type Rule struct {
	ID         string      `yaml:"id"`
	Title      string      `yaml:"title"`
	Class      string      `yaml:"class"` // default cve
	Severity   string      `yaml:"severity"`
	Action     string      `yaml:"action"` // log, rate_limit, block, deceive
	References []string    `yaml:"references"`
	Match      MatchConfig `yaml:"match"`
	file       string
	line       int
}

// MatchConfig combines conditions.
type MatchConfig struct {
	All []Condition `yaml:"all"`
	Any []Condition `yaml:"any"`
}

// Condition tests one part of the request.
type Condition struct {
	// Target: method, host, path, raw_path, query (a parameter value, or
	// any with no name), query_name, header (by name, or any), body,
	// json (by JSON pointer), any_value (every parameter, header and body
	// value).
	Target   string `yaml:"target"`
	Name     string `yaml:"name"`
	Contains string `yaml:"contains"`
	Prefix   string `yaml:"prefix"`
	Equals   string `yaml:"equals"`
	Regex    string `yaml:"regex"`
	// Decoded matches the normalized value (URL decoding, entities);
	// default true.
	Decoded *bool `yaml:"decoded"`
	re      *regexp.Regexp
	// must is a literal every match of re contains: a fast reject
	must string
	// rare* are the indexes of the rarest bytes of must and Contains
	rareMust, rareContains int
	// lname is Name in lower case when it is ASCII, for nameIs
	lname string
}

var targets = map[string]bool{"method": true, "host": true, "path": true, "raw_path": true, "query": true, "query_name": true,
	"header": true, "body": true, "json": true, "any_value": true}

// ruleClasses are the classes a rule can have: every detection class of
// this analyzer (ClassNames).
var ruleClasses = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range ClassNames {
		m[c] = true
	}
	return m
}()

// LoadRules reads the starter pack (unless noStarter) and every *.yaml
// file in dirs. Errors name the file, line and rule.
func LoadRules(dirs []string, noStarter bool) ([]*Rule, error) {
	var rules []*Rule
	var errs []error
	seen := map[string]string{}
	add := func(name string, data []byte) {
		rs, err := parseRules(name, data)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, r := range rs {
			if prev, dup := seen[r.ID]; dup {
				errs = append(errs, fmt.Errorf("%s:%d: rule %s: duplicate id (also in %s)", name, r.line, r.ID, prev))
				continue
			}
			seen[r.ID] = name
			rules = append(rules, r)
		}
	}
	if !noStarter {
		ents, _ := fs.ReadDir(starter, "rules")
		for _, e := range ents {
			b, _ := starter.ReadFile("rules/" + e.Name())
			add("builtin:"+e.Name(), b)
		}
	}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err == nil {
			more, _ := filepath.Glob(filepath.Join(d, "*.yml"))
			files = append(files, more...)
		}
		if st, serr := os.Stat(d); serr != nil {
			errs = append(errs, fmt.Errorf("rules %s: %w", d, serr))
			continue
		} else if !st.IsDir() {
			files = []string{d}
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			add(f, b)
		}
	}
	return rules, errors.Join(errs...)
}

func parseRules(name string, data []byte) ([]*Rule, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var pack RulePack
	if err := dec.Decode(&pack); err != nil {
		return nil, fmt.Errorf("%s: %v", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	_ = yaml.Unmarshal(data, &root)
	lines := ruleLines(&root)
	var out []*Rule
	var errs []error
	for i := range pack.Rules {
		r := &pack.Rules[i]
		r.file = name
		if i < len(lines) {
			r.line = lines[i]
		}
		if err := r.check(); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: rule %q: %w", name, r.line, r.ID, err))
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// ruleLines finds the line of each rule in the document.
func ruleLines(root *yaml.Node) []int {
	if len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "rules" {
			var out []int
			for _, r := range m.Content[i+1].Content {
				out = append(out, r.Line)
			}
			return out
		}
	}
	return nil
}

func (r *Rule) check() error {
	if r.ID == "" {
		return errors.New("id is required")
	}
	if r.Class == "" {
		r.Class = "cve"
	}
	if !ruleClasses[r.Class] {
		return fmt.Errorf("class %q is not a detection class", r.Class)
	}
	if r.Severity == "" {
		r.Severity = "high"
	}
	ok := false
	for _, s := range event.Severities {
		ok = ok || s == r.Severity
	}
	if !ok {
		return fmt.Errorf("severity %q: want one of %s", r.Severity, strings.Join(event.Severities, ", "))
	}
	switch r.Action {
	case "":
		r.Action = "log"
	case "log", "rate_limit", "block", "deceive":
	default:
		return fmt.Errorf("action %q: want log, rate_limit, block or deceive", r.Action)
	}
	if len(r.Match.All)+len(r.Match.Any) == 0 {
		return errors.New("match: no condition")
	}
	for _, list := range [][]Condition{r.Match.All, r.Match.Any} {
		for i := range list {
			c := &list[i]
			if !targets[c.Target] {
				return fmt.Errorf("target %q: want method, host, path, raw_path, query, query_name, header, body, json or any_value", c.Target)
			}
			n := 0
			for _, v := range []string{c.Contains, c.Prefix, c.Equals, c.Regex} {
				if v != "" {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("target %s: want exactly one of contains, prefix, equals, regex", c.Target)
			}
			if c.Regex != "" {
				re, err := regexp.Compile(c.Regex)
				if err != nil {
					return fmt.Errorf("regex: %v", err)
				}
				c.re = re
				c.must = requiredLiteral(c.Regex)
				c.rareMust = rarest(c.must)
			}
			c.rareContains = rarest(c.Contains)
			if isASCII(c.Name) {
				c.lname = strings.ToLower(c.Name)
			}
			if c.Target == "json" && !strings.HasPrefix(c.Name, "/") {
				return errors.New("target json: name must be a JSON pointer (/a/b)")
			}
		}
	}
	return nil
}

// test applies the condition to one value (lower-case matching for
// contains, prefix and equals).
func (c *Condition) test(v string) bool {
	switch {
	case c.re != nil:
		return (c.must == "" || containsFoldAt(v, c.must, c.rareMust)) && c.re.MatchString(v)
	case c.Contains != "":
		return containsFoldAt(v, c.Contains, c.rareContains)
	case c.Prefix != "":
		return len(v) >= len(c.Prefix) && strings.EqualFold(v[:len(c.Prefix)], c.Prefix)
	}
	return strings.EqualFold(v, c.Equals)
}

// named says whether a header or parameter name is the condition's
// Name (in either case), or the condition names none.
func (c *Condition) named(name string) bool {
	switch {
	case c.Name == "":
		return true
	case c.lname != "":
		return nameIs(name, c.lname)
	}
	return strings.EqualFold(name, c.Name)
}

// requiredLiteral is the longest literal that every match of a regular
// expression contains (case folded), or "": rules test it before running
// the expression.
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	best := ""
	consider := func(r *syntax.Regexp) {
		if r.Op == syntax.OpLiteral && len(string(r.Rune)) > len(best) {
			best = string(r.Rune)
		}
	}
	switch re.Op {
	case syntax.OpLiteral:
		consider(re)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			consider(sub)
		}
	}
	for i := 0; i < len(best); i++ {
		if best[i] >= 0x80 {
			return ""
		}
	}
	return best
}

// containsFold is a case-insensitive strings.Contains for ASCII needles:
// it jumps between occurrences of the needle's rarest byte (either case)
// and compares around them.
func containsFold(s, sub string) bool { return containsFoldAt(s, sub, rarest(sub)) }

// containsFoldAt is containsFold with the needle's rarest byte index known.
func containsFoldAt(s, sub string, k int) bool {
	if sub == "" {
		return true
	}
	if len(sub) > len(s) {
		return false
	}
	c := sub[k]
	lo, up := c|0x20, c&^0x20
	if !(lo >= 'a' && lo <= 'z') {
		lo, up = c, c
	}
	for i := k; i+len(sub)-k <= len(s); {
		j := indexEither(s[i:len(s)-len(sub)+k+1], lo, up)
		if j < 0 {
			return false
		}
		i += j
		if strings.EqualFold(s[i-k:i-k+len(sub)], sub) {
			return true
		}
		i++
	}
	return false
}

// letterRank orders letters from most to least frequent in text.
const letterRank = "etaoinshrdlcumwfgypbvkjxqz"

// rarest is the index of the needle byte least likely in traffic.
func rarest(sub string) int {
	best, bestScore := 0, -1
	for i := 0; i < len(sub); i++ {
		c := sub[i] | 0x20
		score := 20 // punctuation and digits: middling
		if r := strings.IndexByte(letterRank, c); r >= 0 && sub[i] >= 'A' {
			score = r
		}
		switch sub[i] {
		case '"', ',', ':', ' ', '/', '.', '-', '_', '0', '1':
			score = 0
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// indexEither is the first index of a or b in s.
func indexEither(s string, a, b byte) int {
	i := strings.IndexByte(s, a)
	if a == b {
		return i
	}
	j := strings.IndexByte(s, b)
	switch {
	case i < 0:
		return j
	case j < 0 || i < j:
		return i
	}
	return j
}
