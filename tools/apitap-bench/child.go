//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// counts is what a program reports at the end of a run.
type counts struct {
	Packets      uint64
	Bytes        uint64
	Transactions uint64
}

// result is one run of one program.
type result struct {
	stats    counts
	wall     time.Duration
	rssBytes int64 // peak resident set size
}

// pinning says how children are held to one CPU.
type pinning struct {
	prefix []string // command prefix, e.g. taskset -c 0; empty when unpinned
	note   string   // footnote text
}

// findPinning returns a taskset prefix for cpu (or for the first CPU this
// process may run on when cpu < 0) if taskset exists and works here.
func findPinning(ctx context.Context, cpu int) pinning {
	path, err := exec.LookPath("taskset")
	if err != nil {
		return pinning{note: "not pinned to one CPU (taskset from util-linux not found); GOMAXPROCS=1 only"}
	}
	if cpu < 0 {
		cpu = firstAllowedCPU()
	}
	c := strconv.Itoa(cpu)
	if err := exec.CommandContext(ctx, path, "-c", c, "true").Run(); err != nil {
		return pinning{note: fmt.Sprintf("not pinned to one CPU (taskset -c %s failed: %v); GOMAXPROCS=1 only", c, err)}
	}
	return pinning{prefix: []string{path, "-c", c}, note: "pinned to CPU " + c + " with taskset, GOMAXPROCS=1"}
}

// firstAllowedCPU reads the first CPU of Cpus_allowed_list in
// /proc/self/status, or returns 0.
func firstAllowedCPU() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if i := strings.IndexAny(v, ",-"); i >= 0 {
			v = v[:i]
		}
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return 0
}

// runChild runs argv with GOMAXPROCS=1 (pinned if pin says so), measures
// its wall time and peak RSS, and parses its final stats line from stdout.
// Stderr is discarded except for the tail, quoted on failure.
func runChild(ctx context.Context, argv []string, pin pinning) (result, error) {
	return runChildN(ctx, argv, pin, 1)
}

// runChildN is runChild with GOMAXPROCS=procs.
func runChildN(ctx context.Context, argv []string, pin pinning, procs int) (result, error) {
	var res result
	full := append(append([]string(nil), pin.prefix...), argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	out := &statsWriter{}
	errTail := &tailWriter{max: 2048}
	cmd.Stdout = out
	cmd.Stderr = errTail
	start := time.Now()
	err := cmd.Run()
	res.wall = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("%s: %w%s", strings.Join(argv, " "), err, errTail.quote())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.rssBytes = int64(ru.Maxrss) * 1024 // KiB on Linux
	}
	st, err := out.final()
	if err != nil {
		return res, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	res.stats = st
	return res, nil
}

// runParallel runs n copies of argv at once (each GOMAXPROCS=1, unpinned):
// the result's wall time is the slowest copy's, its transactions and bytes
// the sum, its peak RSS the largest.
func runParallel(ctx context.Context, argv []string, n int) (result, error) {
	res := make([]result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { res[i], errs[i] = runChild(ctx, argv, pinning{}) })
	}
	wg.Wait()
	var out result
	for i, r := range res {
		if errs[i] != nil {
			return out, errs[i]
		}
		out.wall = max(out.wall, r.wall)
		out.rssBytes = max(out.rssBytes, r.rssBytes)
		out.stats.Transactions += r.stats.Transactions
		out.stats.Packets += r.stats.Packets
		out.stats.Bytes += r.stats.Bytes
	}
	return out, nil
}

// statsLine is the part of a stats event (or of the baseline's line) the
// harness reads.
type statsLine struct {
	Final        *bool   `json:"final"`
	Packets      *uint64 `json:"packets"`
	Bytes        *uint64 `json:"bytes"`
	Transactions *uint64 `json:"transactions"`
}

// parseStatsLine reads one JSON line; ok is false unless it is an object
// with a numeric "transactions" field.
func parseStatsLine(line []byte) (c counts, final, ok bool) {
	var s statsLine
	if err := json.Unmarshal(line, &s); err != nil || s.Transactions == nil {
		return c, false, false
	}
	c.Transactions = *s.Transactions
	if s.Packets != nil {
		c.Packets = *s.Packets
	}
	if s.Bytes != nil {
		c.Bytes = *s.Bytes
	}
	return c, s.Final != nil && *s.Final, true
}

// maxLine bounds one stdout line; longer lines are skipped.
const maxLine = 1 << 20

// statsWriter takes a child's stdout line by line and keeps only the last
// final stats line and the last line with a transaction count, so memory
// stays bounded whatever the child prints.
type statsWriter struct {
	buf      []byte
	skip     bool // inside a line longer than maxLine
	last     counts
	haveLast bool
	fin      counts
	haveFin  bool
}

func (w *statsWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.append(p)
			break
		}
		w.append(p[:i])
		w.line()
		p = p[i+1:]
	}
	return n, nil
}

func (w *statsWriter) append(p []byte) {
	if w.skip {
		return
	}
	if len(w.buf)+len(p) > maxLine {
		w.skip, w.buf = true, w.buf[:0]
		return
	}
	w.buf = append(w.buf, p...)
}

func (w *statsWriter) line() {
	if !w.skip {
		if c, final, ok := parseStatsLine(bytes.TrimSpace(w.buf)); ok {
			w.last, w.haveLast = c, true
			if final {
				w.fin, w.haveFin = c, true
			}
		}
	}
	w.buf, w.skip = w.buf[:0], false
}

// final returns the counts of the last final stats line, else of the last
// line with a transaction count.
func (w *statsWriter) final() (counts, error) {
	if len(w.buf) > 0 || w.skip {
		w.line() // output without a trailing newline
	}
	switch {
	case w.haveFin:
		return w.fin, nil
	case w.haveLast:
		return w.last, nil
	}
	return counts{}, fmt.Errorf("no stats line with a \"transactions\" count on stdout")
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) quote() string {
	s := strings.TrimSpace(string(w.buf))
	if s == "" {
		return ""
	}
	return "\n" + s
}

// genResult is the line apitap-gen bench prints.
type genResult struct {
	File         string `json:"file"`
	Bytes        int64  `json:"bytes"`
	Packets      int64  `json:"packets"`
	Connections  int64  `json:"connections"`
	Transactions uint64 `json:"transactions"`
}

// generate runs `GEN bench [-small] -o path -size size` (mode bench or
// small) or `GEN realistic -o path -size size` and reads its result line.
// The file's size on disk is what throughput is computed on.
func generate(ctx context.Context, gen, path, size, mode string) (genResult, error) {
	var g genResult
	args := []string{"bench"}
	switch mode {
	case "small":
		args = append(args, "-small")
	case "realistic":
		args = []string{"realistic"}
	}
	args = append(args, "-o", path, "-size", size)
	cmd := exec.CommandContext(ctx, gen, args...)
	errTail := &tailWriter{max: 2048}
	cmd.Stderr = errTail
	out, err := cmd.Output()
	if err != nil {
		return g, fmt.Errorf("%s %s: %w%s", gen, strings.Join(args, " "), err, errTail.quote())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &g); err != nil {
		return g, fmt.Errorf("%s: result line %q: %w", gen, lines[len(lines)-1], err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return g, fmt.Errorf("%s wrote no capture: %w", gen, err)
	}
	g.Bytes = fi.Size()
	return g, nil
}

// warm reads the file once so that every timed run finds it in the page
// cache.
func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	_, err = io.CopyBuffer(struct{ io.Writer }{io.Discard}, f, buf)
	return err
}
