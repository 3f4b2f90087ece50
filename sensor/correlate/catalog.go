package correlate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/apitap/apitap/analyzer/discovery"
)

// CatalogConfig configures the catalog merger: a goka group over the
// inventory topic (endpoint events of every sensor, keyed by endpoint id
// and sensor, kafka.InventoryKey; sensors before that keyed them by the
// id alone) whose table holds, per key, the latest event of each sensor.
type CatalogConfig struct {
	Brokers []string
	Group   string // default apitap-catalog; its table is <group>-table (compacted)
	Topic   string // default apitap.inventory
	// Partitions and Replication of the topics it creates.
	Partitions, Replication int
	Options                 []goka.ProcessorOption
}

func (c *CatalogConfig) defaults() {
	if c.Group == "" {
		c.Group = "apitap-catalog"
	}
	if c.Topic == "" {
		c.Topic = "apitap.inventory"
	}
	if c.Partitions <= 0 {
		c.Partitions = 12
	}
	if c.Replication <= 0 {
		c.Replication = 1
	}
}

// perSensor is a catalog table value: each sensor's latest event of one
// endpoint (JSON, as the sensor wrote it).
type perSensor map[string]json.RawMessage

type perSensorCodec struct{}

func (perSensorCodec) Encode(v any) ([]byte, error) {
	m, ok := v.(perSensor)
	if !ok {
		return nil, errors.New("correlate: catalog value is not per sensor")
	}
	return json.Marshal(m)
}

func (perSensorCodec) Decode(b []byte) (any, error) {
	var m perSensor
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// maxEndpointEvent bounds an endpoint event the merger keeps.
const maxEndpointEvent = 1 << 20

// NewCatalog builds the catalog merger's processor.
func NewCatalog(cfg CatalogConfig) (*goka.Processor, error) {
	cfg.defaults()
	g := goka.DefineGroup(goka.Group(cfg.Group),
		goka.Input(goka.Stream(cfg.Topic), bytesCodec{}, func(ctx goka.Context, msg any) {
			b, _ := msg.([]byte)
			if len(b) == 0 || len(b) > maxEndpointEvent {
				return
			}
			var head struct {
				Type, Sensor string
			}
			if json.Unmarshal(b, &head) != nil || head.Type != "endpoint" {
				return
			}
			m, _ := ctx.Value().(perSensor)
			if m == nil {
				m = perSensor{}
			}
			m[head.Sensor] = append(json.RawMessage(nil), b...)
			ctx.SetValue(m)
		}),
		goka.Persist(perSensorCodec{}),
	)
	opts := []goka.ProcessorOption{goka.WithStorageBuilder(func(string, int32) (storage.Storage, error) { return storage.NewMemory(), nil })}
	if len(cfg.Options) == 0 {
		kafka, err := kafkaOptions(cfg.Brokers, cfg.Topic, cfg.Partitions, cfg.Replication)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kafka...)
	}
	p, err := goka.NewProcessor(cfg.Brokers, g, append(opts, cfg.Options...)...)
	if err != nil {
		return nil, fmt.Errorf("correlate: catalog: %w", err)
	}
	return p, nil
}

// ReadCatalog reads the merged catalog: a goka view of the merger's table,
// restored from its changelog, every endpoint merged across sensors,
// sorted by host, path and method. It waits at most timeout for the view.
func ReadCatalog(ctx context.Context, brokers []string, group string, timeout time.Duration, opts ...goka.ViewOption) ([]*discovery.EndpointJSON, error) {
	if group == "" {
		group = "apitap-catalog"
	}
	if len(opts) == 0 {
		sc := SaramaConfig()
		tmc := goka.NewTopicManagerConfig()
		tmc.Table.Replication = 1
		opts = []goka.ViewOption{goka.WithViewStorageBuilder(func(string, int32) (storage.Storage, error) { return storage.NewMemory(), nil }),
			goka.WithViewConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(sc)),
			goka.WithViewTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(sc, tmc)),
			goka.WithViewLogger(quiet{})}
	}
	v, err := goka.NewView(brokers, goka.GroupTable(goka.Group(group)), perSensorCodec{}, opts...)
	if err != nil {
		return nil, fmt.Errorf("catalog view %s: %w", goka.GroupTable(goka.Group(group)), err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	select {
	case <-v.WaitRunning():
	case err := <-done:
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("catalog view: %w", err)
	}
	it, err := v.Iterator()
	if err != nil {
		return nil, err
	}
	var vals []perSensor
	for it.Next() {
		val, err := it.Value()
		if err != nil {
			continue
		}
		if m, ok := val.(perSensor); ok {
			vals = append(vals, m)
		}
	}
	it.Release()
	cancel()
	<-done
	return mergeTable(vals), nil
}

// mergeTable merges the merger's table values: an endpoint's events are
// under several keys (one per sensor; and a key of the id alone from
// sensors before kafka.InventoryKey): grouped by id, the latest event of
// each sensor, merged, sorted by host, path, method and id.
func mergeTable(vals []perSensor) []*discovery.EndpointJSON {
	type seen struct {
		ep *discovery.EndpointJSON
		at time.Time
	}
	byID := map[string]map[string]seen{}
	for _, m := range vals {
		for s, raw := range m {
			var ep discovery.EndpointJSON
			if json.Unmarshal(raw, &ep) != nil || ep.ID == "" {
				continue
			}
			at, _ := time.Parse(time.RFC3339Nano, ep.Time)
			if byID[ep.ID] == nil {
				byID[ep.ID] = map[string]seen{}
			}
			if old, ok := byID[ep.ID][s]; !ok || at.After(old.at) {
				byID[ep.ID][s] = seen{&ep, at}
			}
		}
	}
	var out []*discovery.EndpointJSON
	for _, sensors := range byID {
		var eps []*discovery.EndpointJSON
		for _, s := range slices.Sorted(maps.Keys(sensors)) {
			eps = append(eps, sensors[s].ep)
		}
		out = append(out, MergeEndpoints(eps))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		return a.ID < b.ID
	})
	return out
}
