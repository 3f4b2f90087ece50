package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/rs/zerolog"

	// every analyzer, registered from its init function
	_ "github.com/apitap/apitap/analyzer/all"
	_ "github.com/apitap/apitap/exporter/all"
	"github.com/apitap/apitap/sensor"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Version is set at build time with -ldflags "-X github.com/apitap/apitap/sensor/cli.Version=v1.2.3".
var Version = "v0.1.0-dev"

// IO is the process environment a command runs in.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// StderrTTY says stderr is a terminal (progress bar, colours).
	StderrTTY bool
	// StdoutTTY says stdout is a terminal.
	StdoutTTY bool
	// Getenv reads the environment (APITAP_* variables stand for flags);
	// nil means os.LookupEnv.
	Getenv func(key string) (string, bool)
}

// EnvPrefix starts the environment variable of every flag: --kafka-brokers
// is APITAP_KAFKA_BROKERS. A flag on the command line wins over its
// variable, which wins over the configuration file.
const EnvPrefix = "APITAP_"

// EnvName is the environment variable standing for a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

type command struct {
	name    string
	summary string
	run     func(args []string, env *IO) int
	help    func(w io.Writer)
}

func commands() []command {
	return []command{
		{"read", "read capture files (pcap, pcapng, .gz, - for stdin) and write events", runRead, readHelp},
		{"blocklist", "consume the Kafka blocklist topic into nginx/HAProxy/plain/JSON files and an HTTP feed", runBlocklist, blocklistHelp},
		{"correlate", "run the cross-flow detectors over the observations of many sensors (Kafka, goka processor group)", runCorrelate, correlateHelp},
		{"catalog", "read captures and write the discovered API catalog (JSON, OpenAPI 3.1 or a table)", runCatalog, catalogHelp},
		{"config", "check a configuration file and print the effective configuration (apitap config check FILE)", runConfig, configHelp},
		{"diff", "compare captures with published OpenAPI specs: shadow, zombie and undocumented APIs", runDiff, diffHelp},
		{"report", "read captures and write a self-contained HTML report: catalog, risk, detections, actors", runReport, reportHelp},
		{"run", "capture live traffic from an interface (AF_PACKET) until SIGINT/SIGTERM", runRun, runHelp},
		{"version", "print the version and build information", runVersion, func(w io.Writer) { fmt.Fprintln(w, "usage: apitap version") }},
		{"help", "show help for apitap or one command", nil, func(w io.Writer) { fmt.Fprintln(w, "usage: apitap help [command]") }},
	}
}

// usageError marks errors that exit with ExitUsage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// Main runs apitap with args (without the program name) and returns the
// exit code.
func Main(args []string, env *IO) int {
	if len(args) == 0 {
		mainHelp(env.Stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		mainHelp(env.Stdout)
		return ExitOK
	case "-version", "--version":
		name = "version"
	case "help":
		return helpCommand(args[1:], env)
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c.run(args[1:], env)
		}
	}
	fmt.Fprintf(env.Stderr, "apitap: unknown command %q\nRun 'apitap help' for the list of commands.\n", name)
	return ExitUsage
}

func helpCommand(args []string, env *IO) int {
	if len(args) == 0 {
		mainHelp(env.Stdout)
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			c.help(env.Stdout)
			return ExitOK
		}
	}
	fmt.Fprintf(env.Stderr, "apitap help: unknown command %q\n", args[0])
	return ExitUsage
}

func mainHelp(w io.Writer) {
	fmt.Fprint(w, `apitap: a passive API security sensor.

apitap reads mirrored or captured traffic, reassembles TCP, parses HTTP
transactions and writes JSON events for API discovery and security.

Usage:
  apitap <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Examples:
  apitap read capture.pcap                    summary of the HTTP traffic in a capture
  apitap read --emit transaction a.pcap.gz    one JSON line per HTTP transaction
  tcpdump -w - -U port 80 | apitap read -     read a live pipe

Run 'apitap help <command>' for the flags of a command. Every long flag can
also come from the environment: --kafka-brokers is APITAP_KAFKA_BROKERS
(a flag on the command line wins over its variable, which wins over the
configuration file).
Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
`)
}

func runVersion(args []string, env *IO) int {
	if len(args) > 0 {
		fmt.Fprintln(env.Stderr, "apitap version: takes no arguments")
		return ExitUsage
	}
	fmt.Fprintf(env.Stdout, "apitap %s\n", versionString())
	return ExitOK
}

func versionString() string {
	s := Version
	rev, dirty := "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.modified":
				dirty = kv.Value == "true"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " (commit " + rev
		if dirty {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, as users type them ("apitap read x.pcap --emit all").
// A lone "--" ends flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseArgs parses a command's flags and arguments. done says the caller
// returns code at once: help was shown, or the flag package printed a
// usage error.
func parseArgs(fs *flag.FlagSet, args []string, help func(io.Writer), env *IO) (rest []string, set map[string]bool, code int, done bool) {
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help(env.Stdout)
			return nil, nil, ExitOK, true
		}
		return nil, nil, ExitUsage, true
	}
	set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	getenv := env.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || envErr != nil || len(f.Name) < 2 { // one-letter flags have a long twin
			return
		}
		v, ok := getenv(EnvName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			envErr = fmt.Errorf("%s=%q: %v", EnvName(f.Name), v, err)
			return
		}
		set[f.Name] = true
	})
	if envErr != nil {
		fmt.Fprintf(env.Stderr, "apitap: %v\n", envErr)
		return nil, nil, ExitUsage, true
	}
	return rest, set, 0, false
}

// logger is the command's logger: --log-level, else the configuration
// file's log.level, else info.
func (o *readOpts) logger(env *IO) (zerolog.Logger, error) {
	level := o.logLevel
	if !o.setFlags["log-level"] && o.config != "" {
		if cfg, err := sensor.LoadConfig(o.config); err == nil && cfg.Log.Level != "" {
			level = cfg.Log.Level
		}
	}
	return newLogger(env.Stderr, level, env.StderrTTY)
}

func newLogger(w io.Writer, level string, tty bool) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		return zerolog.Nop(), usagef("--log-level: unknown level %q (use debug, info, warn, error)", level)
	}
	out := w
	if tty {
		out = zerolog.ConsoleWriter{Out: w, NoColor: false, TimeFormat: "15:04:05"}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}

// exitCode maps an error to the contract's exit codes.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// StdIO is the IO of the running process.
func StdIO(isTerminal func(fd int) bool) *IO {
	return &IO{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		StderrTTY: isTerminal(int(os.Stderr.Fd())),
		StdoutTTY: isTerminal(int(os.Stdout.Fd())),
	}
}
