package admin

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// TLS uprobes coverage (docs/tls.md): /api/tls and per-process metrics.

var (
	descUprobeProc  = prometheus.NewDesc("apitap_tls_uprobe_process_attached", "TLS uprobes: 1 when the process's TLS library (or Go program) is probed, 0 when it could not be (see /api/tls for why).", []string{"pid", "process", "pod_uid", "library", "version"}, nil)
	descUprobeBytes = prometheus.NewDesc("apitap_tls_uprobe_process_bytes_total", "TLS uprobes: plaintext bytes read from the process and handed to reassembly.", []string{"pid", "process", "pod_uid", "library", "version"}, nil)
	descUprobeConns = prometheus.NewDesc("apitap_tls_uprobe_process_connections_total", "TLS uprobes: connections read from the process, by outcome (parsed; unresolved: socket not found in /proc in time; duplicate: read from the other end).", []string{"pid", "process", "pod_uid", "library", "version", "outcome"}, nil)
)

// tlsCollector exports what the TLS uprobes cover, per process.
type tlsCollector struct{ s *Server }

func (c tlsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descUprobeProc
	ch <- descUprobeBytes
	ch <- descUprobeConns
}

func (c tlsCollector) Collect(ch chan<- prometheus.Metric) {
	cov := c.s.p.TLSCoverage()
	if cov == nil {
		return
	}
	for _, p := range cov.Processes {
		l := []string{strconv.Itoa(p.PID), p.Comm, p.Pod, p.Library, p.Version}
		att := 0.0
		if p.Attached {
			att = 1
		}
		ch <- prometheus.MustNewConstMetric(descUprobeProc, prometheus.GaugeValue, att, l...)
		ch <- prometheus.MustNewConstMetric(descUprobeBytes, prometheus.CounterValue, float64(p.Bytes), l...)
		for _, o := range []struct {
			name string
			n    uint64
		}{{"parsed", p.Connections}, {"unresolved", p.Unresolved}, {"duplicate", p.Duplicate}} {
			ch <- prometheus.MustNewConstMetric(descUprobeConns, prometheus.CounterValue, float64(o.n), append(l, o.name)...)
		}
	}
}

// serveTLS answers /api/tls: the TLS uprobes' coverage ({"enabled":false}
// when they were not asked for).
func (s *Server) serveTLS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	cov := s.p.TLSCoverage()
	if cov == nil {
		w.Write([]byte(`{"enabled":false}` + "\n"))
		return
	}
	b, err := json.Marshal(cov)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(append(b, '\n'))
}
