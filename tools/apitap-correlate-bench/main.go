package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/observation"
	"github.com/apitap/apitap/sensor/correlate"
)

func main() {
	n := flag.Int("n", 200000, "observations of the throughput run")
	partitions := flag.Int("partitions", 4, "partitions of apitap.observations")
	rate := flag.Int("rate", 2000, "observations per second of the latency run")
	trials := flag.Int("trials", 5, "campaigns of the latency run")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "apitap-correlate-bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*n, *partitions, *rate, *trials); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "apitap-correlate-bench:", err)
		os.Exit(1)
	}
}

func run(n, partitions, rate, trials int) error {
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(partitions), kfake.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	defer cl.Close()
	brokers := cl.ListenAddrs()
	recs := records(n, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	for _, instances := range []int{1, 2} {
		topic := fmt.Sprintf("bench.observations.%d", instances)
		per, d, err := consume(brokers, topic, fmt.Sprintf("bench-%d", instances), partitions, instances, uint64(n), func() error { return produce(brokers, topic, recs) })
		if err != nil {
			return err
		}
		fmt.Printf("throughput, %d instance(s): %d observations in %.2fs = %.0f observations/s; per instance %v\n", instances, n, d.Seconds(), float64(n)/d.Seconds(), per)
	}
	lat, err := latency(brokers, partitions, rate, trials)
	if err != nil {
		return err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("detection latency (produce of the crossing observation to the central detection), %d campaigns at %d observations/s: min %v, median %v, max %v\n",
		len(lat), rate, lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	return nil
}

// records makes n observations of ordinary traffic from three sensors:
// 5000 users reading products and their own orders.
func records(n int, t0 time.Time) []observation.Record {
	out := make([]observation.Record, n)
	for i := range out {
		u := i % 5000
		r := &out[i]
		*r = observation.Record{At: t0.Add(time.Duration(i) * time.Millisecond).UnixNano(), Sensor: fmt.Sprintf("node-%d", i%3), Pos: uint64(i),
			Client: netip.AddrFrom4([4]byte{10, byte(u >> 8), byte(u), 7}), User: fmt.Sprintf("user-%d", u), Print: 42, Shape: 42, Crawler: -1,
			Host: "api.example.com", Method: "GET", Path: "/api/v1/products", Endpoint: 1, Status: 200, RespBytes: 900, Latency: 0.01, Flags: observation.FlagConfirmed}
		if i%4 == 0 {
			r.Path, r.Endpoint, r.Object, r.ObjectID = "/api/v1/orders/{id}", 2, uint64(u*10+i%7), fmt.Sprint(u*10+i%7)
		}
		r.ID = observation.MakeID(r.Sensor, r.Pos, 0, 0)
	}
	return out
}

func produce(brokers []string, topic string, recs []observation.Record) error {
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, Balancer: &kafkago.Hash{}, BatchSize: 5000, BatchTimeout: 5 * time.Millisecond, AllowAutoTopicCreation: true}
	defer w.Close()
	msgs := make([]kafkago.Message, 0, 5000)
	for i := range recs {
		msgs = append(msgs, kafkago.Message{Key: []byte(recs[i].Key()), Value: observation.Append(nil, &recs[i])})
		if len(msgs) == cap(msgs) || i == len(recs)-1 {
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				return err
			}
			msgs = msgs[:0]
		}
	}
	return nil
}

func detectors() (correlate.Detectors, error) {
	return behavior.NewCentral(behavior.NewConfig(), "apitap-correlate")
}

// consume starts instances correlators, waits until they share the
// partitions, has produce publish, and runs them until they processed n
// observations.
func consume(brokers []string, topic, group string, partitions, instances int, n uint64, produce func() error) ([]uint64, time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cs []*correlate.Correlator
	var mu sync.Mutex
	assigned := make([]int, instances)
	for i := range instances {
		c, err := correlate.New(correlate.Config{Brokers: brokers, Topic: topic, Group: group, Partitions: partitions, Idle: 200 * time.Millisecond,
			NewDetectors: detectors, Out: func(*event.Detection) {},
			OnAssign: func(ps []int32) { mu.Lock(); assigned[i] = len(ps); mu.Unlock() }})
		if err != nil {
			return nil, 0, err
		}
		cs = append(cs, c)
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(ctx) }()
	}
	for deadline := time.Now().Add(time.Minute); ; {
		mu.Lock()
		total, all := 0, true
		for _, a := range assigned {
			total += a
			all = all && a > 0
		}
		mu.Unlock()
		if total == partitions && all {
			break
		}
		if time.Now().After(deadline) {
			return nil, 0, fmt.Errorf("partitions not assigned to the %d instances in a minute", instances)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the assignment settles
	if err := produce(); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	per := make([]uint64, len(cs))
	first := time.Time{} // the clock starts at the first observation processed (after the group's join)
	for {
		var sum uint64
		for i, c := range cs {
			st := c.Stats()
			per[i] = st.Processed
			sum += st.Processed + st.Duplicates + st.Malformed // a producer's retry may deliver twice
		}
		if sum > 0 && first.IsZero() {
			first = time.Now()
		}
		if sum >= n {
			break
		}
		if time.Since(start) > 10*time.Minute || first.IsZero() && time.Since(start) > time.Minute {
			return per, 0, fmt.Errorf("%d of %d observations processed in 10 minutes", sum, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	d := time.Since(first)
	cancel()
	wg.Wait()
	return per, d, nil
}

// latency publishes paced live traffic from three sensors with a
// credential-stuffing campaign spread over them, trials times, and
// measures each detection's delay after the crossing observation.
func latency(brokers []string, partitions, rate, trials int) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	topic := "bench.observations.live"
	var mu sync.Mutex
	seen := map[string]time.Time{}
	c, err := correlate.New(correlate.Config{Brokers: brokers, Topic: topic, Group: "bench-live", Partitions: partitions, Idle: time.Second,
		NewDetectors: detectors, Out: func(d *event.Detection) {
			if d.Class == "credential_stuffing" {
				mu.Lock()
				seen[d.Actor.IP] = time.Now()
				mu.Unlock()
			}
		}})
	if err != nil {
		return nil, err
	}
	go c.Run(ctx)
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, Balancer: &kafkago.Hash{}, BatchTimeout: time.Millisecond, AllowAutoTopicCreation: true}
	defer w.Close()
	cfg := behavior.NewConfig()
	var out []time.Duration
	tick := time.NewTicker(time.Second / time.Duration(rate/100))
	defer tick.Stop()
	pos := uint64(0)
	for trial := 0; trial <= trials; trial++ {
		attacker := netip.AddrFrom4([4]byte{198, 51, 100, byte(trial + 1)})
		var crossed time.Time
		for step := 0; step < 3*cfg.StuffingUsers; step++ {
			<-tick.C
			now := time.Now()
			batch := make([]kafkago.Message, 0, 101)
			for k := range 100 { // ordinary traffic
				pos++
				u := int(pos % 5000)
				r := observation.Record{At: now.UnixNano() + int64(k), Sensor: fmt.Sprintf("node-%d", pos%3), Pos: pos, Client: netip.AddrFrom4([4]byte{10, byte(u >> 8), byte(u), 7}),
					User: fmt.Sprintf("user-%d", u), Crawler: -1, Host: "api.example.com", Method: "GET", Path: "/api/v1/products", Endpoint: 1, Status: 200, Flags: observation.FlagConfirmed}
				r.ID = observation.MakeID(r.Sensor, r.Pos, 0, 0)
				batch = append(batch, kafkago.Message{Key: []byte(r.Key()), Value: observation.Append(nil, &r)})
			}
			if step%3 == 0 { // a failed login of the campaign, from the sensor its connection reached
				pos++
				r := observation.Record{At: now.UnixNano() + 500, Sensor: fmt.Sprintf("node-%d", step/3%3), Pos: pos, Client: attacker, Crawler: -1,
					Host: "api.example.com", Method: "POST", Path: "/api/v1/login", Endpoint: 3, Status: 401, LoginKind: observation.LoginAttempt,
					LoginUser: fmt.Sprintf("u:%d-%d", trial, step), LoginAnswer: 9, Flags: observation.FlagConfirmed}
				r.ID = observation.MakeID(r.Sensor, r.Pos, 0, 0)
				batch = append(batch, kafkago.Message{Key: []byte(r.Key()), Value: observation.Append(nil, &r)})
			}
			if err := w.WriteMessages(ctx, batch...); err != nil {
				return nil, err
			}
			if step == 3*(cfg.StuffingUsers-1) {
				crossed = time.Now() // the observation that crosses stuffing_users was written
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			at, ok := seen[attacker.String()]
			mu.Unlock()
			if ok {
				if trial > 0 { // the first campaign warms the group up (partition assignment)
					out = append(out, at.Sub(crossed))
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no campaign detected")
	}
	return out, nil
}
