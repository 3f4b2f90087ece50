package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/risk"
	"github.com/apitap/apitap/sensor/correlate"
	"github.com/apitap/apitap/sensor/report"
)

// readMerged reads the catalog merged across sensors by apitap correlate
// (its apitap-catalog table) from brokers.
func readMerged(list string) ([]*discovery.EndpointJSON, error) {
	brokers := splitList(list)
	if len(brokers) == 0 {
		return nil, usagef("--from-kafka: no brokers")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	eps, err := correlate.ReadCatalog(ctx, brokers, "", 60*time.Second)
	if err != nil {
		return nil, err
	}
	for _, e := range eps {
		e.Risk = riskOf(e.Risk)
	}
	return eps, nil
}

// riskOf turns an endpoint event's risk (decoded JSON) back into the risk
// analyzer's result, as the report and the table read it.
func riskOf(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var r risk.Result
	if json.Unmarshal(b, &r) != nil || r.Band == "" {
		return nil
	}
	return &r
}

// kafkaCatalog writes the catalog merged across sensors (catalog
// --from-kafka).
func kafkaCatalog(o *catalogOpts, env *IO) error {
	eps, err := readMerged(o.fromKafka)
	if err != nil {
		return err
	}
	v := discovery.ViewOf(eps, time.Time{})
	if o.host != "" {
		v = filterHost(v, o.host)
		if len(v.Endpoints) == 0 {
			return usagef("--host %q: not in the merged catalog", o.host)
		}
	}
	var doc []byte
	switch o.format {
	case "json":
		var out []*discovery.EndpointJSON
		for _, ep := range v.Endpoints {
			out = append(out, ep.JSON(v.Time))
		}
		b, err := json.MarshalIndent(mergedCatalog(out, o.sensorID), "", "  ")
		if err != nil {
			return err
		}
		doc = append(b, '\n')
	case "openapi", "openapi-json":
		if doc, err = v.OpenAPI(discovery.OpenAPIOptions{Host: o.host, JSON: o.format == "openapi-json"}); err != nil {
			return err
		}
	default:
		var b strings.Builder
		printCatalog(&b, v, 0)
		doc = []byte(b.String())
	}
	return writeOut(o.out, env, func(w io.Writer) error {
		_, err := w.Write(doc)
		return err
	})
}

// kafkaReport writes the report of the catalog merged across sensors
// (report --from-kafka): the catalog tree, the riskiest endpoints and
// sensitive data by endpoint; detections and actors are apitap
// correlate's (apitap.detections), not part of the merged catalog.
func kafkaReport(o *reportOpts, env *IO) error {
	eps, err := readMerged(o.fromKafka)
	if err != nil {
		return err
	}
	v := discovery.ViewOf(eps, time.Time{})
	sensor := o.sensorID
	if sensor == "" {
		sensor = "apitap-correlate"
	}
	in := &report.Input{Title: o.title, Sensor: sensor, Sources: []string{"Kafka " + o.fromKafka + " (merged catalog)"}, Until: v.Time, Catalog: v}
	for _, h := range v.Hosts {
		in.Transactions += h.Calls // calls of catalogued endpoints: what the sensors' endpoint events count
	}
	var b bytes.Buffer
	if err := report.Render(&b, in); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	out := o.out
	if out == "" {
		out = "report.html"
	}
	if out == "-" {
		_, err = env.Stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	abs, _ := filepath.Abs(out)
	fmt.Fprintf(env.Stderr, "report: %s (%d KB, %d endpoints merged across sensors); open it in a browser\n", abs, (b.Len()+1023)/1024, len(v.Endpoints))
	return nil
}

// mergedCatalog is the catalog document of merged endpoints.
func mergedCatalog(eps []*discovery.EndpointJSON, sensor string) *discovery.CatalogJSON {
	if sensor == "" {
		sensor = "apitap-correlate"
	}
	cat := &discovery.CatalogJSON{Schema: event.SchemaVersion, Type: "catalog", Sensor: sensor, Endpoints: eps, Hosts: []discovery.HostJSON{}}
	if cat.Endpoints == nil {
		cat.Endpoints = []*discovery.EndpointJSON{}
	}
	idx := map[[2]string]int{}
	var latest time.Time
	for _, e := range eps {
		k := [2]string{e.Host, e.Version}
		i, ok := idx[k]
		if !ok {
			i = len(cat.Hosts)
			idx[k] = i
			cat.Hosts = append(cat.Hosts, discovery.HostJSON{Host: e.Host, Version: e.Version})
		}
		cat.Hosts[i].Calls += e.Calls
		cat.Hosts[i].Endpoints++
		if t, err := time.Parse(time.RFC3339Nano, e.LastSeen); err == nil && t.After(latest) {
			latest = t
		}
	}
	if !latest.IsZero() {
		cat.Time = latest.UTC().Format(time.RFC3339Nano)
	}
	return cat
}
