package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/apitap/apitap/analyzer/discovery"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/sensor/correlate"
)

// kafkaCatalog writes the catalog merged across sensors (catalog
// --from-kafka).
func kafkaCatalog(o *catalogOpts, env *IO) error {
	brokers := splitList(o.fromKafka)
	if len(brokers) == 0 {
		return usagef("--from-kafka: no brokers")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	eps, err := correlate.ReadCatalog(ctx, brokers, "", 60*time.Second)
	if err != nil {
		return err
	}
	cat := mergedCatalog(eps, o.sensorID)
	return writeOut(o.out, env, func(w io.Writer) error {
		if o.format == "json" {
			b, err := json.MarshalIndent(cat, "", "  ")
			if err != nil {
				return err
			}
			_, err = w.Write(append(b, '\n'))
			return err
		}
		for _, h := range cat.Hosts {
			fmt.Fprintf(w, "%s  %d endpoints, %d calls\n", h.Host, h.Endpoints, h.Calls)
			for _, e := range cat.Endpoints {
				if e.Host == h.Host && e.Version == h.Version {
					fmt.Fprintf(w, "  %-7s %-50s %8d  auth %s  status %s\n", e.Method, e.Path, e.Calls, countList(e.Auth.Types), countList(e.StatusCodes))
				}
			}
		}
		return nil
	})
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
