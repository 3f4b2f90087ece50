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
}).Parse(pageTemplate))

// Render writes the report for in.
func Render(w io.Writer, in *Input) error {
	return tmpl.Execute(w, build(in))
}
