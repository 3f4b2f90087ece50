package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
	"github.com/apitap/apitap/reassembly/http2"
	"github.com/apitap/apitap/reassembly/tlsdecrypt"
	"github.com/apitap/apitap/sensor"
)

// printHTTP2 writes the HTTP/2 line of the summary (when there was any).
func printHTTP2(w io.Writer, r *reassembly.Stats) {
	h := &r.HTTP2
	var conns uint64
	for _, n := range h.Conns {
		conns += n
	}
	if conns == 0 {
		return
	}
	fmt.Fprintf(w, "  http/2         %s connections", humanCount(conns))
	if n := h.Conns[http2.StartMidStream]; n > 0 {
		fmt.Fprintf(w, " (%s joined mid-stream)", humanCount(n))
	}
	fmt.Fprintf(w, ", %s streams", humanCount(h.Streams))
	if g := h.GRPC; g.Calls > 0 {
		fmt.Fprintf(w, ", %s gRPC calls (%s messages)", humanCount(g.Calls), humanCount(g.Messages))
	}
	if h.FieldsUnresolved > 0 && h.HeaderFields > 0 {
		fmt.Fprintf(w, "; %.1f%% of header fields resolved, %s of %s paths after a late join",
			100-100*float64(h.FieldsUnresolved)/float64(h.HeaderFields), humanCount(h.LatePaths-h.LatePathsUnresolved), humanCount(h.LatePaths))
	}
	fmt.Fprintln(w)
}

// printSummary writes the one-screen human summary of a run.
func printSummary(w io.Writer, s *sensor.Summary, cfg sensor.Config) {
	st := s.Event(s.LastTime)
	secs := s.Wall.Seconds()
	fmt.Fprintf(w, "\napitap: %d source(s), %s in %.2fs with %d worker(s)\n", len(s.Files), humanBytes(s.Bytes), secs, s.Workers)
	if secs > 0 {
		fmt.Fprintf(w, "  throughput     %s/s, %s packets/s, %s transactions/s\n",
			humanBytes(uint64(float64(s.Bytes)/secs)), humanCount(uint64(float64(s.Packets)/secs)), humanCount(uint64(float64(st.Transactions)/secs)))
	}
	fmt.Fprintf(w, "  packets        %s (%s decoded as TCP)\n", humanCount(s.Packets), humanCount(s.Decode[0]))
	r := &s.Reassembly
	fmt.Fprintf(w, "  flows          %s TCP connections", humanCount(r.Flows))
	if r.MidStream > 0 {
		fmt.Fprintf(w, ", %s directions joined mid-stream", humanCount(r.MidStream))
	}
	if r.TLSHellos+r.TLSUnparsed > 0 {
		fmt.Fprintf(w, ", %s TLS (ClientHello fingerprinted, JA4)", humanCount(r.TLSHellos))
		if r.TLSUnparsed > 0 {
			fmt.Fprintf(w, " + %s with an unreadable hello", humanCount(r.TLSUnparsed))
		}
		printTLS(w, r)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  transactions   %s HTTP request/response exchanges (HTTP/1.x: %s requests, %s responses)\n",
		humanCount(st.Transactions), humanCount(r.HTTP.Requests), humanCount(r.HTTP.Responses))
	printHTTP2(w, r)
	if st.Transactions > 0 {
		line(w, "busiest hosts", s.Hosts)
		line(w, "methods", s.Methods)
		var status []event.Count
		for i, n := range s.Status {
			if n == 0 {
				continue
			}
			name := fmt.Sprintf("%dxx", i)
			if i == 0 {
				name = "no response"
			}
			status = append(status, event.Count{Name: name, N: n})
		}
		line(w, "status", status)
	}
	line(w, "flagged", st.Flags)
	if len(s.Analyzers) > 0 {
		fmt.Fprintf(w, "  analyzers      %s\n", strings.Join(s.Analyzers, ", "))
		if len(st.Detections) == 0 {
			fmt.Fprintf(w, "  detections     none\n")
		} else {
			line(w, "detections", st.Detections)
		}
	}
	if cfg.Sensor.Publishes() || s.Observations > 0 {
		fmt.Fprintf(w, "  observations   %s published to apitap.observations (apitap correlate)\n", humanCount(s.Observations))
	}
	line(w, "parse errors", st.ParseErrors)
	if r.Gaps > 0 {
		fmt.Fprintf(w, "  gaps           %s (%s bytes lost on the wire or skipped)\n", humanCount(r.Gaps), humanCount(r.GapBytes))
	}
	line(w, "not decoded", st.Decode)
	drops := st.Drops
	if len(drops) == 0 {
		fmt.Fprintf(w, "  drops          none\n")
	} else {
		line(w, "drops", drops)
	}
	for _, f := range s.Files {
		switch {
		case f.Damage != "":
			fmt.Fprintf(w, "  damaged        %s: %s after %s packets (processed up to the damage)\n", f.Name, strings.ReplaceAll(f.Damage, "_", " "), humanCount(f.Packets))
		case f.Err != nil:
			fmt.Fprintf(w, "  failed         %s: %v\n", f.Name, f.Err)
		}
	}
	emitted := strings.Join(cfg.Output.Emit, ",")
	if emitted == "" {
		emitted = "none"
	}
	fmt.Fprintf(w, "  events         %s (--emit)\n", emitted)
}

func line(w io.Writer, label string, c []event.Count) {
	if len(c) == 0 {
		return
	}
	parts := make([]string, len(c))
	for i, x := range c {
		parts[i] = fmt.Sprintf("%s %s", x.Name, humanCount(x.N))
	}
	fmt.Fprintf(w, "  %-14s %s\n", label, strings.Join(parts, ", "))
}

// printTLS adds what key log decryption did to the flows line.
func printTLS(w io.Writer, r *reassembly.Stats) {
	n := &r.TLS.N
	if n[tlsdecrypt.CtrSessions] == 0 {
		return
	}
	fmt.Fprintf(w, "; key log: %s decrypted", humanCount(n[tlsdecrypt.CtrDecrypted]))
	for _, c := range []tlsdecrypt.Counter{tlsdecrypt.CtrNoKeys, tlsdecrypt.CtrUnsupported, tlsdecrypt.CtrLost, tlsdecrypt.CtrMalformed} {
		if n[c] > 0 {
			fmt.Fprintf(w, ", %s %s", humanCount(n[c]), strings.ReplaceAll(strings.TrimPrefix(c.String(), "sessions_"), "_", " "))
		}
	}
}
