package analyzer

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/reassembly"
)

// Emitter receives what analyzers decide. The sensor worker that runs a
// chain implements it; d is encoded before Detection returns, so an
// analyzer may reuse it.
type Emitter interface {
	Detection(d *event.Detection)
}

// Analyzer looks at transactions, synchronously, on the worker goroutine
// that reassembled them. It must not keep tx (strings inside may be kept).
type Analyzer interface {
	Name() string
	Analyze(tx *reassembly.Transaction, emit Emitter)
}

// Flusher is implemented by analyzers with windows or pending state:
// Flush is called as capture time advances and once at the end.
type Flusher interface {
	Flush(now time.Time, emit Emitter)
}

// Env is what an analyzer gets from the sensor.
type Env struct {
	Log    zerolog.Logger
	Sensor string // sensor id
	Worker int    // index of the worker running this instance
}

// Descriptor registers an analyzer (from its package's init function).
type Descriptor struct {
	Name    string // = its folder name, the key of its configuration section
	Order   int    // position in the chain, lowest first; risk runs last
	Default bool   // enabled when the configuration does not mention it
	// NewConfig returns the analyzer's configuration with its defaults;
	// the YAML section is decoded strictly over it.
	NewConfig func() any
	// New builds one instance (one per worker) from a decoded configuration.
	New func(cfg any, env Env) (Analyzer, error)
}

var registry = map[string]Descriptor{}

// Register adds an analyzer. It panics on a duplicate or incomplete
// descriptor: that is a programming error found at start-up.
func Register(d Descriptor) {
	if d.Name == "" || d.New == nil || d.NewConfig == nil {
		panic(fmt.Sprintf("analyzer.Register: incomplete descriptor %+v", d))
	}
	if _, dup := registry[d.Name]; dup {
		panic("analyzer.Register: duplicate analyzer " + d.Name)
	}
	registry[d.Name] = d
}

// Registered lists the analyzers in chain order.
func Registered() []Descriptor {
	out := make([]Descriptor, 0, len(registry))
	for _, d := range registry {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Chain runs the enabled analyzers of one worker in order.
type Chain struct {
	list     []Analyzer
	flushers []Flusher
}

// NewChain builds one instance of every enabled analyzer.
func NewChain(enabled []Enabled, env Env) (*Chain, error) {
	c := &Chain{}
	for _, e := range enabled {
		a, err := e.Desc.New(e.Config, env)
		if err != nil {
			return nil, fmt.Errorf("analyzer %s: %w", e.Desc.Name, err)
		}
		c.list = append(c.list, a)
		if f, ok := a.(Flusher); ok {
			c.flushers = append(c.flushers, f)
		}
	}
	return c, nil
}

// Len is the number of analyzers in the chain.
func (c *Chain) Len() int { return len(c.list) }

// Names lists the chain's analyzers in order.
func (c *Chain) Names() []string {
	var n []string
	for _, a := range c.list {
		n = append(n, a.Name())
	}
	return n
}

// Analyze hands tx to every analyzer in order.
func (c *Chain) Analyze(tx *reassembly.Transaction, emit Emitter) {
	for _, a := range c.list {
		a.Analyze(tx, emit)
	}
}

// Flush lets windowed analyzers report what is due at capture time now.
func (c *Chain) Flush(now time.Time, emit Emitter) {
	for _, f := range c.flushers {
		f.Flush(now, emit)
	}
}

// Enabled is an analyzer to run with its decoded configuration.
type Enabled struct {
	Desc   Descriptor
	Config any
}

// Names of the enabled analyzers.
func Names(e []Enabled) []string {
	var n []string
	for _, x := range e {
		n = append(n, x.Desc.Name)
	}
	return n
}

func knownNames() []string {
	var n []string
	for _, d := range Registered() {
		n = append(n, d.Name)
	}
	return slices.Clip(n)
}
