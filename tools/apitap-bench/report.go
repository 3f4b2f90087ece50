//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets from the project's performance goals (docs/performance.md).
const (
	targetMBps   = 600     // MB/s/core on the large capture
	targetTxps   = 200_000 // tx/s/core on the small capture
	targetRSSMB  = 300     // peak RSS, MB
	millionBytes = 1e6
)

// capture is one generated capture file.
type capture struct {
	name  string // large, small
	shape string // transaction sizes, e.g. "1-64 KB"
	path  string
	gen   genResult
}

func (c *capture) label() string {
	return fmt.Sprintf("%s %s (%s)", c.name, sizeLabel(c.gen.Bytes), c.shape)
}

// sizeLabel prints bytes as GB with two decimals from 10^9 on, else as MB.
func sizeLabel(n int64) string {
	if n >= 1e9 {
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
	return fmt.Sprintf("%.0f MB", float64(n)/millionBytes)
}

// measurement is every run of one program on one capture.
type measurement struct {
	capture *capture
	program string
	runs    []result
}

func (m *measurement) add(r result) { m.runs = append(m.runs, r) }

// best is the fastest run.
func (m *measurement) best() result {
	b := m.runs[0]
	for _, r := range m.runs[1:] {
		if r.wall < b.wall {
			b = r
		}
	}
	return b
}

// peakRSS is the largest peak RSS over the runs, in bytes.
func (m *measurement) peakRSS() int64 {
	var p int64
	for _, r := range m.runs {
		p = max(p, r.rssBytes)
	}
	return p
}

func (m *measurement) seconds() float64 {
	return max(m.best().wall.Seconds(), float64(time.Nanosecond)/float64(time.Second))
}

// mbps is capture file megabytes (10^6) per second of the fastest run.
func (m *measurement) mbps() float64 {
	return float64(m.capture.gen.Bytes) / millionBytes / m.seconds()
}

// txps is the program's own transaction count per second of the fastest run.
func (m *measurement) txps() float64 {
	return float64(m.best().stats.Transactions) / m.seconds()
}

func mb(bytes int64) float64 { return float64(bytes) / millionBytes }

// report is the outcome of a whole benchmark run.
type report struct {
	rows []*measurement // per capture: apitap (pipeline only), apitap+all, naive (realistic: and apitap+all without each analyzer)
	// scaling is the full sensor on the realistic capture with 1, 2, ...
	// workers (unpinned, GOMAXPROCS = workers)
	scaling []*measurement
	// machine is the yardstick of scaling: as many copies of the naive
	// baseline at once as workers above (each GOMAXPROCS=1, unpinned)
	machine []*measurement
	pin     pinning
	runs    int
}

func (r *report) find(captureName, program string) *measurement {
	for _, m := range r.rows {
		if m.capture.name == captureName && m.program == program {
			return m
		}
	}
	return nil
}

var header = []string{"capture", "program", "MB/s/core", "tx/s/core", "transactions", "peak RSS"}

func (r *report) cells() [][]string {
	out := [][]string{}
	for _, m := range r.rows {
		out = append(out, []string{
			m.capture.label(),
			m.program,
			strconv.FormatFloat(m.mbps(), 'f', 1, 64),
			group(uint64(m.txps() + 0.5)),
			group(m.best().stats.Transactions),
			fmt.Sprintf("%.1f MB", mb(m.peakRSS())),
		})
	}
	return out
}

// summary is the lines printed under the table: speed-up, targets, method
// and notes.
func (r *report) summary() []string {
	var lines []string
	if a, f, n := r.find("realistic", "apitap"), r.find("realistic", "apitap+all"), r.find("realistic", "naive"); a != nil && f != nil && n != nil {
		lines = append(lines, fmt.Sprintf("realistic mix (headline): apitap+all %s tx/s/core = %.2fx the naive baseline %s (target 2x); pipeline alone %.2fx %s (target 3x)",
			group(uint64(f.txps()+0.5)), f.txps()/n.txps(), met(f.txps() >= 2*n.txps()), a.txps()/n.txps(), met(a.txps() >= 3*n.txps())))
		var shares []string
		negative := false
		total := f.seconds() - a.seconds()
		for _, m := range r.rows {
			name, ok := strings.CutPrefix(m.program, "apitap+all-")
			if !ok || m.capture.name != "realistic" {
				continue
			}
			d := f.seconds() - m.seconds()
			negative = negative || d < 0
			shares = append(shares, fmt.Sprintf("%s %.2f s (%.0f%%)", name, d, 100*d/max(f.seconds(), 1e-9)))
		}
		if len(shares) > 0 {
			line := fmt.Sprintf("realistic mix, each analyzer's share of the full sensor's %.2f s (its time minus the time without that analyzer; the analyzers together: %.2f s over the pipeline): %s",
				f.seconds(), total, strings.Join(shares, ", "))
			if negative {
				line += " (a negative share is smaller than the runs' noise: make bench-instructions counts instructions instead)"
			}
			lines = append(lines, line)
		}
	}
	if len(r.scaling) > 0 {
		base := r.scaling[0]
		var sc []string
		for i, m := range r.scaling {
			n, _ := strconv.Atoi(strings.TrimPrefix(m.program, "apitap+all x"))
			x := base.seconds() / max(m.seconds(), 1e-9)
			line := fmt.Sprintf("%d: %s tx/s (%.2fx, %.0f%% of linear", n, group(uint64(m.txps()+0.5)), x, 100*x/float64(max(n, 1)))
			if i < len(r.machine) && n > 1 {
				// n copies do n times the work of one
				mx := float64(n) * r.machine[0].seconds() / max(r.machine[i].seconds(), 1e-9)
				line += fmt.Sprintf("; the machine runs %d copies of the naive baseline at once at %.2fx, so %.0f%% of what it offers", n, mx, 100*x/max(mx, 1e-9))
			}
			sc = append(sc, line+")")
		}
		lines = append(lines, "realistic mix, scaling of apitap+all over workers (unpinned, GOMAXPROCS = workers, wall time of the fastest of interleaved runs): "+strings.Join(sc, "; ")+" (target: N workers >= 0.8 N)")
	}
	var speed []string
	for _, name := range []string{"large", "small"} {
		a, n := r.find(name, "apitap"), r.find(name, "naive")
		if a == nil || n == nil {
			continue
		}
		speed = append(speed, fmt.Sprintf("%s %.2f", name, a.mbps()/n.mbps()))
	}
	if len(speed) > 0 {
		lines = append(lines, "speed-up (apitap/naive): "+strings.Join(speed, ", "))
	}
	var cost []string
	for _, name := range []string{"large", "small"} {
		a, f := r.find(name, "apitap"), r.find(name, "apitap+all")
		if a == nil || f == nil {
			continue
		}
		x := a.mbps() / f.mbps()
		cost = append(cost, fmt.Sprintf("%s %.2fx %s", name, x, met(x <= 1.5)))
	}
	if len(cost) > 0 {
		lines = append(lines, "analyzers (apitap+all: "+strings.Join(defaultAnalyzers(), ", ")+", on by default) slow the pipeline down by: "+
			strings.Join(cost, ", ")+" (within 1.5x of the pipeline as measured here)")
	}
	// the attack issue's target: with every analyzer, the sensor still meets
	// the pipeline's throughput targets within a factor of 1.5
	var full []string
	if f := r.find("large", "apitap+all"); f != nil {
		full = append(full, fmt.Sprintf(">= %.0f MB/s/core large: %.1f %s", targetMBps/1.5, f.mbps(), met(f.mbps() >= targetMBps/1.5)))
	}
	if f := r.find("small", "apitap+all"); f != nil {
		full = append(full, fmt.Sprintf(">= %.0fk tx/s/core small: %s %s", targetTxps/1.5/1000, group(uint64(f.txps()+0.5)), met(f.txps() >= targetTxps/1.5)))
	}
	if len(full) > 0 {
		lines = append(lines, "apitap+all within 1.5x of the pipeline targets: "+strings.Join(full, "; "))
	}

	var targets []string
	if a := r.find("large", "apitap"); a != nil {
		targets = append(targets, fmt.Sprintf(">= %d MB/s/core large: %.1f %s", targetMBps, a.mbps(), met(a.mbps() >= targetMBps)))
	}
	if a := r.find("small", "apitap"); a != nil {
		targets = append(targets, fmt.Sprintf(">= %dk tx/s/core small: %s %s", targetTxps/1000, group(uint64(a.txps()+0.5)), met(a.txps() >= targetTxps)))
	}
	var rss int64
	for _, m := range r.rows {
		if m.program != "naive" {
			rss = max(rss, m.peakRSS())
		}
	}
	targets = append(targets, fmt.Sprintf("apitap RSS < %d MB: %.1f MB %s", targetRSSMB, mb(rss), met(mb(rss) < targetRSSMB)))
	lines = append(lines, "targets: "+strings.Join(targets, "; "))

	lines = append(lines, fmt.Sprintf("method: %s; page cache warmed before the runs; best of %d runs by wall time; "+
		"peak RSS is the largest rusage maxrss of the runs; MB = 10^6 bytes of capture file; "+
		"tx/s counts each program's own transactions", r.pin.note, r.runs))
	for _, m := range r.rows {
		if m.program != "naive" {
			continue
		}
		if got, want := m.best().stats.Transactions, m.capture.gen.Transactions; got != want {
			lines = append(lines, fmt.Sprintf("note: the naive baseline counted %s transactions on the %s capture, the generator wrote %s",
				group(got), m.capture.name, group(want)))
		}
	}
	lines = append(lines, fmt.Sprintf("host: %s, %d CPUs, %s/%s, harness built with %s", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version()))
	return lines
}

func met(ok bool) string {
	if ok {
		return "(met)"
	}
	return "(missed)"
}

// text is the plain table printed to stdout.
func (r *report) text() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range r.cells() {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	for _, l := range r.summary() {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// markdown is the same report as a markdown table and list.
func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", len(header)) + "\n")
	for _, row := range r.cells() {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	b.WriteString("\n")
	for _, l := range r.summary() {
		b.WriteString("- " + l + "\n")
	}
	return b.String()
}

// mismatches lists a MISMATCH line for every apitap run whose transaction
// count differs from the generator's.
func (r *report) mismatches() []string {
	var out []string
	for _, m := range r.rows {
		if m.program == "naive" {
			continue
		}
		for i, run := range m.runs {
			if got, want := run.stats.Transactions, m.capture.gen.Transactions; got != want {
				out = append(out, fmt.Sprintf("MISMATCH: %s counted %d transactions on the %s capture (run %d), the generator wrote %d",
					m.program, got, m.capture.name, i+1, want))
			}
		}
	}
	return out
}

// group writes n with thousands separators: 1234567 -> 1,234,567.
func group(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
