package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/sensor/report"
)

func reportHelp(w io.Writer) {
	fmt.Fprint(w, `usage: apitap report [flags] FILE... [-o report.html]

Reads capture files like apitap read and writes one self-contained HTML
report (inline CSS, JS and SVG; it makes no network request) for a
security team: summary figures; the API catalog as a tree by host and path
with risk colours, authentication and sensitive-data badges; the riskiest
endpoints and their top factors; detections over time, by class and
severity, the most severe ones with redacted evidence; the top threat
actors with their score, kill-chain stage and linked identities; sensitive
data by endpoint; and, with --spec, shadow and zombie endpoints and spec
conformance. It prints on a laptop screen and on paper.

A running sensor (apitap run) serves the same view live at /report on its
admin port.

Examples:
  apitap report capture.pcap                       # writes report.html
  apitap report --spec api.yaml -o shop.html day1.pcap.gz day2.pcap.gz
  apitap report --from-kafka kafka:9092 -o merged.html

With --from-kafka BROKERS it reads no capture: it reports the catalog
merged across sensors by apitap correlate (see apitap help catalog): the
catalog tree, the riskiest endpoints and sensitive data by endpoint, with
the calls of catalogued endpoints as its transactions. Detections and
actors are not part of the merged catalog (apitap correlate writes them to
apitap.detections), so those sections stay empty.

Flags:
`)
	fs, _ := reportFlags(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

type reportOpts struct {
	readOpts
	title string
	// fromKafka reports the catalog merged by apitap correlate
	fromKafka string
}

func reportFlags(stderr io.Writer) (*flag.FlagSet, *reportOpts) {
	o := &reportOpts{}
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.reportFlags(fs, "report (default report.html)")
	fs.StringVar(&o.title, "title", "apitap report", "`title` of the report")
	fs.StringVar(&o.sensorID, "sensor-id", "", "sensor `id` shown in the report (default: the host name)")
	fs.StringVar(&o.fromKafka, "from-kafka", "", "report the catalog merged across sensors by apitap correlate, read from these Kafka `brokers` (host:port,...), instead of captures")
	return fs, o
}

func runReport(args []string, env *IO) int {
	fs, o := reportFlags(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: apitap report [flags] FILE... -o report.html   (apitap help report for details)")
	}
	files, set, code, done := parseArgs(fs, args, reportHelp, env)
	if done {
		return code
	}
	o.setFlags = set
	var err error
	if set["from-kafka"] {
		if len(files) > 0 {
			err = usagef("--from-kafka reads no capture")
		} else {
			err = kafkaReport(o, env)
		}
	} else {
		err = doReport(files, o, env)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "apitap report: %v\n", err)
	}
	return exitCode(err)
}

func doReport(files []string, o *reportOpts, env *IO) error {
	a, err := o.analyse(files, env, "")
	if err != nil {
		return err
	}
	p, sum, cfg, out := a.p, a.sum, a.cfg, a.out
	if out == "" {
		out = "report.html"
	}
	in := &report.Input{Title: o.title, Sensor: cfg.Sensor.ID, Transactions: sum.Reassembly.Transactions, Until: sum.LastTime, Detections: p.Detections, Specs: contains(p.Analyzers, "conformance")}
	for _, f := range files {
		in.Sources = append(in.Sources, filepath.Base(f))
	}
	if cat, ok := p.Shared(discovery.Name).(*discovery.Catalog); ok {
		in.Catalog = cat.View()
	}
	if t, ok := p.Shared(behavior.Name).(*behavior.Tracker); ok {
		in.Actors = t.Top(20, sum.LastTime)
	}
	var b bytes.Buffer
	if err := report.Render(&b, in); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	if out == "-" {
		_, err = env.Stdout.Write(b.Bytes())
	} else {
		err = os.WriteFile(out, b.Bytes(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if !o.quiet {
		printSummary(env.Stderr, sum, cfg)
		fmt.Fprintln(env.Stderr)
	}
	if out != "-" {
		abs, _ := filepath.Abs(out)
		fmt.Fprintf(env.Stderr, "report: %s (%d KB); open it in a browser\n", abs, (b.Len()+1023)/1024)
	}
	return a.failures(files)
}
