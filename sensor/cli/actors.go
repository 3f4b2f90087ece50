package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/apitap/apitap/analyzer/behavior"
)

// actorRows is how many actors the read summary lists.
const actorRows = 10

// printActors writes the top threat actors: score, stage, what they did
// and the identities linked to them.
func printActors(w io.Writer, t *behavior.Tracker, now time.Time, maxRows int) {
	top := t.Top(maxRows, now)
	if len(top) == 0 {
		fmt.Fprintf(w, "\nactors: none with a threat score\n")
		return
	}
	fmt.Fprintf(w, "\nactors: top %d by threat score\n", len(top))
	rows := [][]string{{"ACTOR", "SCORE", "STAGE", "REQUESTS", "DETECTIONS", "LINKED"}}
	for _, a := range top {
		var dets []string
		for c, n := range a.Detections {
			dets = append(dets, fmt.Sprintf("%s:%d", c, n))
		}
		sort.Strings(dets)
		var linked []string
		for _, l := range [...]struct {
			typ  string
			vals []string
		}{{"user", a.Users}, {"ip", a.IPs}, {"fingerprint", a.Prints}, {"session", a.Sessions}} {
			switch {
			case l.typ == a.Kind || len(l.vals) == 0:
			case len(l.vals) == 1:
				linked = append(linked, l.typ+" "+l.vals[0])
			default:
				linked = append(linked, fmt.Sprintf("%d %ss", len(l.vals), l.typ))
			}
		}
		stage := a.Stage
		if stage == "" {
			stage = "-"
		}
		rows = append(rows, []string{a.Name(), fmt.Sprintf("%.0f", a.Score), stage, fmt.Sprint(a.Requests), orDash(strings.Join(dets, " ")), orDash(strings.Join(linked, ", "))})
	}
	writeTable(w, rows, map[int]bool{1: true, 3: true})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeTable writes rows as aligned columns, right-aligning the columns
// in right.
func writeTable(w io.Writer, rows [][]string, right map[int]bool) {
	width := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len(c))
			switch {
			case i == len(r)-1:
				b.WriteString(c)
			case right[i]:
				b.WriteString(pad + c + "  ")
			default:
				b.WriteString(c + pad + "  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
