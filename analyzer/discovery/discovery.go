package discovery

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apitap/apitap/analyzer"
	"github.com/apitap/apitap/reassembly"
)

// Name is the analyzer's name and configuration key.
const Name = "discovery"

// Config is the `analyzers.discovery` section.
type Config struct {
	// MaxEndpoints is the catalog's endpoint budget, all hosts together:
	// past it the least valuable endpoint is evicted (only errors, then
	// fewest calls, then idle longest). Path positions are bounded to four
	// per endpoint.
	MaxEndpoints int `yaml:"max_endpoints"`
	// MaxHosts bounds the hosts (and API versions) of the catalog; past it
	// the host with the fewest calls of a sample is evicted.
	MaxHosts int `yaml:"max_hosts"`
	// MaxEndpointsPerHost bounds the (path, method) entries per host
	// (eviction within the host).
	MaxEndpointsPerHost int `yaml:"max_endpoints_per_host"`
	// MaxNodesPerHost bounds the path positions stored per host.
	MaxNodesPerHost int `yaml:"max_nodes_per_host"`
	// MaxLiteralsPerNode bounds the distinct literal segments stored under
	// one path position; past it new segments count as parameter values.
	MaxLiteralsPerNode int `yaml:"max_literals_per_node"`
	// FoldMinDistinct and FoldRatio: literal segments under one position
	// fold into a parameter when there are at least FoldMinDistinct of
	// them and distinct/requests is at least FoldRatio.
	FoldMinDistinct int     `yaml:"fold_min_distinct"`
	FoldRatio       float64 `yaml:"fold_ratio"`
	// FoldMaxLiterals: this many distinct literal segments under one
	// position always fold (in the catalog itself: later values cost no
	// memory).
	FoldMaxLiterals int `yaml:"fold_max_literals"`
	// SchemaSamples JSON bodies per endpoint are inferred, then one call
	// in SchemaSampleEvery.
	SchemaSamples     int `yaml:"schema_samples"`
	SchemaSampleEvery int `yaml:"schema_sample_every"`
	// ReportInterval (capture time) between endpoint events for new and
	// changed endpoints on live sources; 0 reports only at the end.
	ReportInterval time.Duration `yaml:"report_interval"`
	// VersionHeaders name request headers carrying an API version; their
	// value keeps endpoints of different versions apart.
	VersionHeaders []string `yaml:"version_headers"`
	// GeoIPDB and ASNDB are MaxMind-format databases (GeoLite2/GeoIP2
	// Country or City, and ASN) for the countries and networks clients
	// come from; empty: not reported.
	GeoIPDB string `yaml:"geoip_db"`
	ASNDB   string `yaml:"asn_db"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		MaxEndpoints: 50000, MaxHosts: 2000, MaxEndpointsPerHost: 20000, MaxNodesPerHost: 80000, MaxLiteralsPerNode: 256,
		FoldMinDistinct: 8, FoldRatio: 0.1, FoldMaxLiterals: 64,
		SchemaSamples: 32, SchemaSampleEvery: 64,
		ReportInterval: 30 * time.Second,
		VersionHeaders: []string{"api-version", "x-api-version", "accept-version"},
	}
}

// Validate checks the bounds.
func (c *Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, not %d", name, v))
		}
	}
	pos("max_endpoints", c.MaxEndpoints)
	pos("max_hosts", c.MaxHosts)
	pos("max_endpoints_per_host", c.MaxEndpointsPerHost)
	pos("max_nodes_per_host", c.MaxNodesPerHost)
	pos("max_literals_per_node", c.MaxLiteralsPerNode)
	pos("fold_min_distinct", c.FoldMinDistinct)
	pos("fold_max_literals", c.FoldMaxLiterals)
	pos("schema_sample_every", c.SchemaSampleEvery)
	if c.SchemaSamples < 0 {
		errs = append(errs, fmt.Errorf("schema_samples: must not be negative"))
	}
	if c.FoldRatio <= 0 || c.FoldRatio > 1 {
		errs = append(errs, fmt.Errorf("fold_ratio: must be in (0, 1], not %v", c.FoldRatio))
	}
	if c.ReportInterval < 0 {
		errs = append(errs, fmt.Errorf("report_interval: must not be negative"))
	}
	return errors.Join(errs...)
}

// Catalog is the discovery state: one trie of every host, updated by one
// goroutine at a time (mu), in the order transactions are handed to it.
// Views derive templates from it on demand.
type Catalog struct {
	cfg    *Config
	sensor string
	geo    *geoDB

	mu       sync.Mutex
	t        *trie
	decorate func(*EndpointJSON)
	view     *View // derived since the last change (nil: none), see View

	// reporting (one goroutine at a time, see analyzer.Reporter)
	rmu     sync.Mutex
	every   analyzer.Every
	emitted map[string]uint64 // endpoint id -> signature last reported
}

// NewCatalog returns an empty catalog.
func NewCatalog(cfg *Config, sensor string) *Catalog {
	return &Catalog{cfg: cfg, sensor: sensor, emitted: map[string]uint64{}, t: newTrie(cfg, nil)}
}

// OpenCatalog is NewCatalog with the configured GeoIP/ASN databases open.
func OpenCatalog(cfg *Config, sensor string) (*Catalog, error) {
	c := NewCatalog(cfg, sensor)
	g, err := openGeo(cfg.GeoIPDB, cfg.ASNDB)
	if err != nil {
		return nil, err
	}
	c.geo = g
	c.t.geo = g
	return c, nil
}

// SetDecorator sets a function that completes every endpoint's JSON (the
// risk analyzer adds the risk score). It must be safe for concurrent use.
func (c *Catalog) SetDecorator(fn func(*EndpointJSON)) {
	c.mu.Lock()
	c.decorate = fn
	c.view = nil
	c.mu.Unlock()
}

// Observer returns a worker's instance of the analyzer: it records into
// the one catalog.
func (c *Catalog) Observer() *Observer { return &Observer{c: c} }

// Observer is one worker's instance of the analyzer.
type Observer struct {
	c *Catalog
}

// Name implements analyzer.Analyzer.
func (o *Observer) Name() string { return Name }

// AnalyzesMessages implements analyzer.MessageAnalyzer: GraphQL
// operations sent over WebSocket (graphql-ws, subscriptions-transport-ws)
// are recorded under the endpoint that upgraded the connection.
func (o *Observer) AnalyzesMessages() bool { return true }

// Analyze records tx in the catalog.
func (o *Observer) Analyze(tx *reassembly.Transaction, _ analyzer.Emitter) { o.c.Observe(tx) }

// Observe records one transaction: an API call on its endpoint, or a
// probe on the nearest one. Calls are serialised: the catalog's decisions
// (folding, eviction, where a probe is counted) follow the order of the
// calls, so one goroutine feeding it in capture order gets the same
// catalog every run.
func (c *Catalog) Observe(tx *reassembly.Transaction) {
	c.mu.Lock()
	c.t.add(tx)
	c.view = nil
	c.mu.Unlock()
}

// Report emits endpoint events: for new and changed endpoints every
// report_interval of capture time, and for every endpoint at the end.
func (c *Catalog) Report(now time.Time, final bool, out analyzer.EventSink) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.every.D = c.cfg.ReportInterval
	if !final && !c.every.Due(now) {
		return
	}
	if f, ok := out.(analyzer.EventFilter); ok && !f.Wants("endpoint") {
		return // (the catalog's table and other reports read the View itself)
	}
	v := c.View()
	if final && !now.IsZero() && now.After(v.Time) {
		v.Time = now
	}
	live := map[string]bool{}
	for _, ep := range v.Endpoints {
		live[ep.ID] = true
		j := ep.JSON(v.Time)
		change := "final"
		if !final { // (the final report sends every endpoint: no signature)
			sig := j.signature()
			old, seen := c.emitted[ep.ID]
			switch {
			case !seen:
				change = "new"
			case old != sig:
				change = "changed"
			default:
				continue
			}
			c.emitted[ep.ID] = sig
		}
		j.Change = change
		out.Event("endpoint", ep.ID, c.encode(j, v.Time))
	}
	for id := range c.emitted {
		if !live[id] {
			delete(c.emitted, id) // evicted or folded away: no memory for it
		}
	}
}

func init() {
	analyzer.Register(analyzer.Descriptor{
		Name:      Name,
		Stage:     analyzer.StageOrdered, // one catalog, updated in capture order
		After:     []string{"sensitive", "conformance", "attack", "risk", "behavior"},
		Default:   true,
		NewConfig: func() any { return NewConfig() },
		NewShared: func(cfg any, env analyzer.Env) (any, error) {
			return OpenCatalog(cfg.(*Config), env.Sensor)
		},
		New: func(cfg any, env analyzer.Env) (analyzer.Analyzer, error) {
			c, ok := env.Shared.(*Catalog)
			if !ok {
				return nil, errors.New("discovery: no shared catalog")
			}
			return c.Observer(), nil
		},
	})
}
