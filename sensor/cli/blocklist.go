package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/apitap/apitap/exporter/kafka"
	"github.com/apitap/apitap/sensor"
)

func blocklistHelp(w io.Writer) {
	fmt.Fprint(w, `usage: apitap blocklist --kafka-brokers HOST:PORT [flags]

Consumes the blocklist topic (apitap.blocklist, keyed by <type>:<value>,
compacted: a tombstone revokes) as a Kafka consumer group and materialises
the current blocklist for enforcement points. On every change it replaces,
atomically (write to a temporary file, rename):

  --nginx FILE     an nginx include with one "deny ADDRESS;" line per blocked
                   IP or CIDR (include it in a server or location block)
  --haproxy FILE   a HAProxy ACL file: one address or CIDR per line
                   (acl blocked src -f FILE; http-request deny if blocked)
  --plain FILE     one blocked address or CIDR per line (ipset, scripts)
  --json FILE      every entry with its type, action, reason and expiry

and runs --reload-cmd (through sh -c, debounced) so the enforcement point
picks the change up. --listen serves /blocklist.txt and /blocklist.json for
gateways and WAFs that poll a URL, and /healthz. Entries disappear at their
expires_at even without a tombstone.

Only entries whose action is in --actions (default block) go to the nginx,
HAProxy and plain files; the JSON file and feed carry every entry.

Examples:
  apitap blocklist --kafka-brokers kafka:9092 --nginx /etc/nginx/apitap-deny.conf --reload-cmd "nginx -s reload"
  apitap blocklist --kafka-brokers kafka:9092 --listen :8088 --json /var/lib/apitap/blocklist.json

Flags:
`)
	fs, _ := blocklistFlags(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

type blocklistOpts struct {
	config, brokers, topic, group     string
	nginx, haproxy, plain, jsonFile   string
	reload, listen, actions, logLevel string
	debounce                          time.Duration
	once                              bool
}

func blocklistFlags(stderr io.Writer) (*flag.FlagSet, *blocklistOpts) {
	o := &blocklistOpts{}
	fs := flag.NewFlagSet("blocklist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "YAML configuration `file`: its exporters.kafka section gives TLS and SASL settings")
	fs.StringVar(&o.brokers, "kafka-brokers", "", "comma list of `host:port` (required)")
	fs.StringVar(&o.topic, "topic", "apitap.blocklist", "blocklist `topic`")
	fs.StringVar(&o.group, "group", "apitap-blocklist", "consumer `group` (each enforcement point should have its own)")
	fs.StringVar(&o.nginx, "nginx", "", "nginx include `file` of deny lines")
	fs.StringVar(&o.haproxy, "haproxy", "", "HAProxy ACL `file`")
	fs.StringVar(&o.plain, "plain", "", "plain list `file`, one address or CIDR per line")
	fs.StringVar(&o.jsonFile, "json", "", "JSON `file` of every entry")
	fs.StringVar(&o.reload, "reload-cmd", "", "`command` run (sh -c) after the files change")
	fs.DurationVar(&o.debounce, "debounce", time.Second, "wait this `long` after a change before rewriting files and reloading, to batch bursts")
	fs.StringVar(&o.listen, "listen", "", "serve /blocklist.txt and /blocklist.json on `host:port`")
	fs.StringVar(&o.actions, "actions", "block", "comma list of `actions` enforced by the nginx, HAProxy and plain files")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	return fs, o
}

func runBlocklist(args []string, env *IO) int {
	fs, o := blocklistFlags(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: apitap blocklist --kafka-brokers HOST:PORT [flags]   (apitap help blocklist for details)")
	}
	rest, _, code, done := parseArgs(fs, args, blocklistHelp, env)
	if done {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(env.Stderr, "apitap blocklist: unexpected argument %q\n", rest[0])
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := doBlocklist(ctx, o, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap blocklist: %v\n", err)
	}
	return exitCode(err)
}

// blEntry is one materialised blocklist entry.
type blEntry struct {
	Key     string    `json:"key"`
	Type    string    `json:"type"`
	Value   string    `json:"value"`
	Action  string    `json:"action"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires_at"`
	Sensor  string    `json:"sensor,omitempty"`
}

// blState is the current blocklist.
type blState struct {
	mu      sync.Mutex
	entries map[string]blEntry
	version uint64
	enforce map[string]bool
}

func (s *blState) apply(key string, value []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(value) == 0 { // tombstone
		_, had := s.entries[key]
		delete(s.entries, key)
		s.version++
		return had
	}
	var ev struct {
		Sensor string `json:"sensor"`
		Actor  struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"actor"`
		Action  string    `json:"action"`
		Reason  string    `json:"reason"`
		Expires time.Time `json:"expires_at"`
		Revoked bool      `json:"revoked"`
	}
	if err := json.Unmarshal(value, &ev); err != nil || ev.Actor.Value == "" {
		return false
	}
	if ev.Revoked {
		delete(s.entries, key)
	} else {
		s.entries[key] = blEntry{Key: key, Type: ev.Actor.Type, Value: ev.Actor.Value, Action: ev.Action, Reason: ev.Reason, Expires: ev.Expires, Sensor: ev.Sensor}
	}
	s.version++
	return true
}

// expire drops entries past their expiry (wall clock).
func (s *blState) expire(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for k, e := range s.entries {
		if !e.Expires.IsZero() && now.After(e.Expires) {
			delete(s.entries, k)
			changed = true
		}
	}
	if changed {
		s.version++
	}
	return changed
}

// snapshot lists the entries (sorted) and the enforced addresses.
func (s *blState) snapshot() ([]blEntry, []string, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []blEntry
	var addrs []string
	for _, e := range s.entries {
		all = append(all, e)
		if s.enforce[e.Action] && (e.Type == "ip" || e.Type == "cidr") && validAddr(e.Value) {
			addrs = append(addrs, e.Value)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
	sort.Strings(addrs)
	return all, addrs, s.version
}

// validAddr keeps anything but an address or CIDR out of server configs.
func validAddr(v string) bool {
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(v)
	return err == nil
}

func doBlocklist(ctx context.Context, o *blocklistOpts, env *IO) error {
	log, err := newLogger(env.Stderr, o.logLevel, env.StderrTTY)
	if err != nil {
		return err
	}
	if o.brokers == "" {
		return usagef("--kafka-brokers is required")
	}
	if o.nginx == "" && o.haproxy == "" && o.plain == "" && o.jsonFile == "" && o.listen == "" {
		return usagef("nothing to maintain: give --nginx, --haproxy, --plain, --json or --listen")
	}
	var cfg sensor.Config
	if o.config != "" {
		if cfg, err = sensor.LoadConfig(o.config); err != nil {
			return usageError{err.Error()}
		}
	}
	dialer := &kafkago.Dialer{Timeout: 10 * time.Second, DualStack: true}
	kc, err := kafka.FromSettings(cfg.Exporters)
	if err != nil {
		return usageError{err.Error()}
	}
	if kc.TLS.Enabled {
		if dialer.TLS, err = kc.TLS.Config(); err != nil {
			return usageError{err.Error()}
		}
	}
	if kc.SASL.Mechanism != "" {
		if dialer.SASLMechanism, err = kc.SASL.Build(); err != nil {
			return usageError{err.Error()}
		}
	}
	st := &blState{entries: map[string]blEntry{}, enforce: map[string]bool{}}
	for _, a := range splitList(o.actions) {
		st.enforce[a] = true
	}
	if o.listen != "" {
		ln, err := net.Listen("tcp", o.listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", o.listen, err)
		}
		srv := &http.Server{Handler: blocklistHandler(st), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info().Str("addr", ln.Addr().String()).Msg("serving /blocklist.txt and /blocklist.json")
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: splitList(o.brokers), GroupID: o.group, Topic: o.topic, Dialer: dialer,
		StartOffset: kafkago.FirstOffset, MaxWait: 100 * time.Millisecond, CommitInterval: time.Second})
	defer r.Close()
	changes := make(chan struct{}, 1)
	notify := func() {
		select {
		case changes <- struct{}{}:
		default:
		}
	}
	go func() { // writer: debounce, write files, reload
		var written uint64
		for {
			select {
			case <-ctx.Done():
				return
			case <-changes:
			case <-time.After(time.Second):
				if st.expire(time.Now()) {
					notify()
				}
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(o.debounce):
			}
			all, addrs, v := st.snapshot()
			if v == written {
				continue
			}
			written = v
			if err := writeBlocklist(o, all, addrs); err != nil {
				log.Error().Err(err).Msg("blocklist files not written")
				continue
			}
			log.Info().Int("entries", len(all)).Int("enforced", len(addrs)).Msg("blocklist updated")
			if o.reload != "" {
				out, err := exec.CommandContext(ctx, "sh", "-c", o.reload).CombinedOutput()
				if err != nil {
					log.Error().Err(err).Str("output", strings.TrimSpace(string(out))).Msg("reload command failed")
				}
			}
		}
	}()
	log.Info().Str("topic", o.topic).Str("group", o.group).Msg("consuming the blocklist")
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("kafka: %w", err)
		}
		if st.apply(string(m.Key), m.Value) {
			notify()
		}
		if err := r.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("commit")
		}
	}
}

// writeBlocklist replaces each configured file atomically.
func writeBlocklist(o *blocklistOpts, all []blEntry, addrs []string) error {
	var errs []error
	write := func(path string, body []byte) {
		if path == "" {
			return
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), ".apitap-blocklist-*")
		if err != nil {
			errs = append(errs, err)
			return
		}
		_, err = tmp.Write(body)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			os.Chmod(tmp.Name(), 0o644)
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			errs = append(errs, err)
		}
	}
	var nginx, plain strings.Builder
	nginx.WriteString("# written by apitap blocklist; do not edit\n")
	for _, a := range addrs {
		fmt.Fprintf(&nginx, "deny %s;\n", a)
		plain.WriteString(a + "\n")
	}
	write(o.nginx, []byte(nginx.String()))
	write(o.haproxy, []byte(plain.String()))
	write(o.plain, []byte(plain.String()))
	if o.jsonFile != "" {
		b, _ := json.MarshalIndent(map[string]any{"entries": nonNil(all)}, "", "  ")
		write(o.jsonFile, append(b, '\n'))
	}
	return errors.Join(errs...)
}

func nonNil(e []blEntry) []blEntry {
	if e == nil {
		return []blEntry{}
	}
	return e
}

func blocklistHandler(st *blState) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/blocklist.txt", func(w http.ResponseWriter, r *http.Request) {
		_, addrs, _ := st.snapshot()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, a := range addrs {
			fmt.Fprintln(w, a)
		}
	})
	mux.HandleFunc("/blocklist.json", func(w http.ResponseWriter, r *http.Request) {
		all, _, _ := st.snapshot()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"entries": nonNil(all)})
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}
