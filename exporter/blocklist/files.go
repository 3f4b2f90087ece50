package blocklist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// DryRunSuffix names the twin of each file that receives the dry-run
// (would_*) entries. It is appended, so that an include pattern such as
// conf.d/*.conf never picks the twin up.
const DryRunSuffix = ".dry-run"

// FileOutput is one file kept in a format.
type FileOutput struct {
	Format *Format
	Path   string
}

// Files keeps the output files of one enforcement point: it renders them,
// replaces each atomically, checks the candidates with the target's own
// checker and keeps the last good files when the check fails, then runs
// the reload command.
type Files struct {
	Outputs []FileOutput
	// Enforce lists the actions the address formats carry (their
	// would_ forms go to the dry-run twins). JSON carries every action.
	Enforce map[string]bool
	// Check is a shell command run on the candidates before they count
	// (nginx -t -c /etc/nginx/nginx.conf, haproxy -c -f ...). When it
	// holds {}, {} is replaced by the fileCandidate paths (quoted) and it runs
	// before the swap; otherwise the candidates are put in place, the
	// command checks the whole configuration, and when it fails the last
	// good files are put back. Either way a failed check keeps the last
	// good files and skips the reload.
	Check string
	// Reload is a shell command run after the files changed and passed
	// the check (nginx -s reload).
	Reload string
	// Timeout bounds each command (default 30 s).
	Timeout time.Duration
	// Rejects receives what rendering refused.
	Rejects *Rejects

	lastGood map[string][]byte // content that passed the check, by path
	loaded   map[string]bool
	// CheckTime and ReloadTime are how long the last write's check and
	// reload took.
	CheckTime, ReloadTime time.Duration
	// CheckFailures and ReloadFailures count failed commands.
	CheckFailures, ReloadFailures atomic.Uint64
}

// fileCandidate is one file to write.
type fileCandidate struct {
	path  string
	body  []byte
	empty string
	tmp   string
}

// Write renders items into every output and replaces the files that
// changed. It reports whether files changed (and passed the check); an
// error says what failed (a failed check, a write, the reload).
func (f *Files) Write(ctx context.Context, items []Item) (bool, error) {
	if f.lastGood == nil {
		f.lastGood, f.loaded = map[string][]byte{}, map[string]bool{}
	}
	if f.Rejects == nil {
		f.Rejects = &Rejects{}
	}
	dryItems := false
	for _, it := range items {
		if _, ok := DryRunAction(it.Action); ok {
			dryItems = true
			break
		}
	}
	var cands []fileCandidate
	for _, o := range f.Outputs {
		main, dry := f.predicates(o.Format)
		cands = append(cands, fileCandidate{path: o.Path, body: o.Format.Render(items, main, f.Rejects), empty: o.Format.Empty})
		twin := o.Path + DryRunSuffix
		if _, err := os.Stat(twin); dryItems || err == nil {
			cands = append(cands, fileCandidate{path: twin, body: o.Format.Render(items, dry, f.Rejects), empty: o.Format.Empty})
		}
	}
	var changed []fileCandidate
	for _, c := range cands {
		if !f.loaded[c.path] {
			f.loaded[c.path] = true
			if b, err := os.ReadFile(c.path); err == nil {
				f.lastGood[c.path] = b // what the enforcement point uses now
			}
		}
		if old, ok := f.lastGood[c.path]; !ok || !bytes.Equal(old, c.body) {
			changed = append(changed, c)
		}
	}
	if len(changed) == 0 {
		return false, nil
	}
	if strings.Contains(f.Check, "{}") {
		if err := f.checkBefore(ctx, changed); err != nil {
			return false, err
		}
	} else {
		var errs []error
		for _, c := range changed {
			if err := replace(c.path, c.body); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			f.restore(changed)
			return false, err
		}
		if f.Check != "" {
			if out, err := f.run(ctx, f.Check, &f.CheckTime); err != nil {
				f.CheckFailures.Add(1)
				rerr := f.restore(changed)
				return false, errors.Join(fmt.Errorf("check %q failed, the last good files stay: %w: %s", f.Check, err, out), rerr)
			}
		}
	}
	for _, c := range changed {
		f.lastGood[c.path] = c.body
	}
	if f.Reload != "" {
		if out, err := f.run(ctx, f.Reload, &f.ReloadTime); err != nil {
			f.ReloadFailures.Add(1)
			return true, fmt.Errorf("reload %q: %w: %s", f.Reload, err, out)
		}
	}
	return true, nil
}

// predicates are the actions a format's file and its dry-run twin take.
func (f *Files) predicates(fm *Format) (main, dry func(string) bool) {
	if !fm.Addresses {
		return func(a string) bool { _, d := DryRunAction(a); return !d },
			func(a string) bool { _, d := DryRunAction(a); return d }
	}
	return func(a string) bool { return f.Enforce[a] },
		func(a string) bool { b, d := DryRunAction(a); return d && f.Enforce[b] }
}

// checkBefore writes the candidates next to their targets, checks them
// with {} replaced by their paths, and renames them into place only when
// the check passes.
func (f *Files) checkBefore(ctx context.Context, changed []fileCandidate) error {
	defer func() {
		for _, c := range changed {
			if c.tmp != "" {
				os.Remove(c.tmp)
			}
		}
	}()
	var paths []string
	for i := range changed {
		tmp, err := writeTemp(changed[i].path, changed[i].body)
		if err != nil {
			return err
		}
		changed[i].tmp = tmp
		paths = append(paths, shellQuote(tmp))
	}
	cmd := strings.ReplaceAll(f.Check, "{}", strings.Join(paths, " "))
	if out, err := f.run(ctx, cmd, &f.CheckTime); err != nil {
		f.CheckFailures.Add(1)
		return fmt.Errorf("check %q failed, the last good files stay: %w: %s", f.Check, err, out)
	}
	for i := range changed {
		if err := os.Rename(changed[i].tmp, changed[i].path); err != nil {
			return err
		}
		changed[i].tmp = ""
	}
	return nil
}

// restore puts the last good content back (the format's empty file when
// there was none).
func (f *Files) restore(changed []fileCandidate) error {
	var errs []error
	for _, c := range changed {
		good, ok := f.lastGood[c.path]
		if !ok {
			good = []byte(c.empty)
		}
		if err := replace(c.path, good); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *Files) run(ctx context.Context, command string, took *time.Duration) (string, error) {
	start := time.Now()
	defer func() { *took = time.Since(start) }()
	t := f.Timeout
	if t <= 0 {
		t = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if len(s) > 2000 {
		s = s[:2000] + "..."
	}
	return s, err
}

// writeTemp writes body to a new temporary file beside path.
func writeTemp(path string, body []byte) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".apitap-blocklist-*")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// replace writes body to path atomically (a temporary file renamed over
// it): readers see the old file or the new one, never half of one.
func replace(path string, body []byte) error {
	tmp, err := writeTemp(path, body)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
