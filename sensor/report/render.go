package report

import (
	_ "embed"
	"html/template"
	"io"
	"strings"
)

//go:embed report.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"join":   func(s []string, sep string) string { return strings.Join(s, sep) },
	"lower":  strings.ToLower,
	"indent": func(d int) int { return d * 18 },
	"sevIndex": func(s string) int {
		for i, v := range []string{"info", "low", "medium", "high", "critical"} {
			if v == s {
				return i
			}
		}
		return 0
	},
	"pct": func(score float64) int { return int(min(score, 100)) },
	"inc": func(i int) int { return i + 1 },
}).Parse(pageTemplate))

// Render writes the report for in.
func Render(w io.Writer, in *Input) error {
	return tmpl.Execute(w, build(in))
}

// Snapshot is a report prepared once (every endpoint's row computed), from
// which pages render without touching the catalog again: a live sensor
// serves /report?page=N from one.
type Snapshot struct {
	p *page
}

// NewSnapshot prepares the report of in.
func NewSnapshot(in *Input) *Snapshot { return &Snapshot{p: build(in)} }

// Render writes one page of the report: at most in.MaxEndpoints (or
// DefaultMaxEndpoints) endpoints in the catalog tree, lists capped.
func (s *Snapshot) Render(w io.Writer, page int) error {
	p := *s.p
	p.setPage(page)
	return tmpl.Execute(w, &p)
}
