package blocklist

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Runtime keeps an ACL and a map of a running HAProxy in step with the
// blocklist over its runtime API (the stats socket, `level admin`): entries
// apply at once, without a reload. Pair it with the ACL or map file output
// of the same path so that a reload or restart loads the same entries.
//
// Only canonical addresses and networks are ever sent: the runtime API
// splits a line at ';' into commands, so a raw value such as
// "1.2.3.4;clear acl ..." would run a command of its own. Entries that are
// removed are deleted by their reference (#0x...), never by text read back.
type Runtime struct {
	// Addr is the stats socket: a unix socket path, or host:port.
	Addr string
	// ACL is the ACL reference: the file the ACL was loaded from
	// (`acl apitap_blocked src -f /etc/haproxy/apitap.acl`) or #<id>.
	ACL string
	// Map is the map reference (`src,map_ip(/etc/haproxy/apitap.map)`):
	// address -> action.
	Map string
	// Enforce lists the actions the ACL carries; the map carries them
	// too, with the action as value.
	Enforce map[string]bool
	// Timeout bounds each exchange with HAProxy (default 5 s).
	Timeout time.Duration
	// Rejects receives what validation refused.
	Rejects *Rejects
	// Errors counts failed synchronisations.
	Errors atomic.Uint64
}

// refPattern is what an ACL or map reference may look like: a path or
// #<id>, nothing that could end a runtime API command.
var refPattern = regexp.MustCompile(`^(#[0-9]+|/[A-Za-z0-9/_.@+-]+)$`)

// entryRef is the reference HAProxy shows for a pattern.
var entryRef = regexp.MustCompile(`^0x[0-9a-f]+$`)

// Validate checks the references.
func (r *Runtime) Validate() error {
	if r.ACL == "" && r.Map == "" {
		return errors.New("the HAProxy runtime API needs an ACL or a map reference")
	}
	for _, ref := range []string{r.ACL, r.Map} {
		if ref != "" && !refPattern.MatchString(ref) {
			return fmt.Errorf("HAProxy reference %q: want an absolute file path or #<id>", ref)
		}
	}
	return nil
}

// Sync makes the ACL and the map hold exactly the enforced address items
// and reports how many patterns it added, changed and removed.
func (r *Runtime) Sync(ctx context.Context, items []Item) (added, changed, removed int, err error) {
	if err := r.Validate(); err != nil {
		return 0, 0, 0, err
	}
	if r.Rejects == nil {
		r.Rejects = &Rejects{}
	}
	want := map[string]string{} // canonical value -> action
	for _, it := range items {
		if !IsAddress(it.Type) || !r.Enforce[it.Action] {
			continue
		}
		canon, why := Canonical(it.Type, it.Value, nil, nil)
		if why == "" && (!knownAction(it.Action) || canon != it.Value) {
			why = RejectNotAddress
		}
		if why != "" {
			r.Rejects.Add("haproxy-runtime", why)
			continue
		}
		want[canon] = it.Action
	}
	defer func() {
		if err != nil {
			r.Errors.Add(1)
		}
	}()
	for _, kind := range []string{"acl", "map"} {
		ref := r.ACL
		if kind == "map" {
			ref = r.Map
		}
		if ref == "" {
			continue
		}
		a, c, d, err := r.syncOne(ctx, kind, ref, want)
		added, changed, removed = added+a, changed+c, removed+d
		if err != nil {
			return added, changed, removed, err
		}
	}
	return added, changed, removed, nil
}

// pattern is one entry HAProxy holds.
type pattern struct{ ref, value string }

func (r *Runtime) syncOne(ctx context.Context, kind, ref string, want map[string]string) (added, changed, removed int, err error) {
	have, err := r.show(ctx, kind, ref)
	if err != nil {
		return 0, 0, 0, err
	}
	var cmds []string
	seen := map[string]bool{}
	for _, p := range have {
		canon, val := p.value, ""
		if kind == "map" {
			canon, val, _ = strings.Cut(p.value, " ")
		}
		c, why := Canonical(typeOf(canon), canon, nil, nil)
		action, ok := want[c]
		if why != "" || !ok || seen[c] {
			cmds = append(cmds, "del "+kind+" "+ref+" #"+p.ref) // by reference: no text read back is ever sent
			removed++
			continue
		}
		seen[c] = true
		if kind == "map" && val != action {
			cmds = append(cmds, "set map "+ref+" #"+p.ref+" "+action)
			changed++
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if kind == "map" {
			cmds = append(cmds, "add map "+ref+" "+k+" "+want[k])
		} else {
			cmds = append(cmds, "add acl "+ref+" "+k)
		}
		added++
	}
	if err := r.batch(ctx, cmds); err != nil {
		return added, changed, removed, err
	}
	if len(cmds) == 0 {
		return 0, 0, 0, nil
	}
	// read back: HAProxy must now hold exactly what is wanted
	have, err = r.show(ctx, kind, ref)
	if err != nil {
		return added, changed, removed, err
	}
	got := map[string]bool{}
	for _, p := range have {
		v := p.value
		if kind == "map" {
			v, _, _ = strings.Cut(v, " ")
		}
		if c, why := Canonical(typeOf(v), v, nil, nil); why == "" {
			got[c] = true
		}
	}
	if len(got) != len(want) || len(have) != len(want) {
		return added, changed, removed, fmt.Errorf("HAProxy %s %s holds %d patterns after the update, want %d", kind, ref, len(have), len(want))
	}
	for k := range want {
		if !got[k] {
			return added, changed, removed, fmt.Errorf("HAProxy %s %s lacks %s after the update", kind, ref, k)
		}
	}
	return added, changed, removed, nil
}

func typeOf(v string) string {
	if strings.IndexByte(v, '/') >= 0 {
		return "cidr"
	}
	return "ip"
}

// show lists the patterns of an ACL or map.
func (r *Runtime) show(ctx context.Context, kind, ref string) ([]pattern, error) {
	out, err := r.exchange(ctx, "show "+kind+" "+ref)
	if err != nil {
		return nil, err
	}
	var ps []pattern
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		id, v, ok := strings.Cut(line, " ")
		if !ok || !entryRef.MatchString(id) {
			return nil, fmt.Errorf("show %s %s: %s", kind, ref, firstLine(out))
		}
		ps = append(ps, pattern{ref: id, value: v})
	}
	return ps, nil
}

// batch sends commands joined by ';' in lines of at most 8 KiB (HAProxy
// reads a command line into one buffer), and checks that each command
// answered success (an empty answer).
func (r *Runtime) batch(ctx context.Context, cmds []string) error {
	var errs []string
	for len(cmds) > 0 {
		n, size := 0, 0
		for n < len(cmds) && (n == 0 || size+len(cmds[n])+1 <= 8<<10) {
			size += len(cmds[n]) + 1
			n++
		}
		out, err := r.exchange(ctx, strings.Join(cmds[:n], ";"))
		if err != nil {
			return err
		}
		// one "\n" per successful command; anything else is an error
		// text ("Key not found." for a pattern already gone is fine)
		for _, l := range strings.Split(out, "\n") {
			if l != "" && l != "Key not found." {
				errs = append(errs, l)
			}
		}
		cmds = cmds[n:]
	}
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], "...")
		}
		return fmt.Errorf("HAProxy runtime API: %s", strings.Join(errs, "; "))
	}
	return nil
}

// exchange sends one command line and reads the answer (HAProxy closes
// the connection after it in non-interactive mode).
func (r *Runtime) exchange(ctx context.Context, line string) (string, error) {
	if strings.ContainsAny(line, "\n\r") {
		return "", errors.New("HAProxy runtime API: a command with a line break")
	}
	t := r.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	network := "tcp"
	if strings.HasPrefix(r.Addr, "/") || strings.HasPrefix(r.Addr, "@") {
		network = "unix"
	}
	d := net.Dialer{Timeout: t}
	c, err := d.DialContext(ctx, network, r.Addr)
	if err != nil {
		return "", fmt.Errorf("HAProxy runtime API: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(t))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", fmt.Errorf("HAProxy runtime API: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(c, 64<<20))
	if err != nil {
		return "", fmt.Errorf("HAProxy runtime API: %w", err)
	}
	return string(b), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
