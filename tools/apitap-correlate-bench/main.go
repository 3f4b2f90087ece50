package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/apitap/apitap/analyzer/behavior"
	"github.com/apitap/apitap/analyzer/event"
	"github.com/apitap/apitap/analyzer/observation"
	"github.com/apitap/apitap/sensor/correlate"
)

func main() {
	n := flag.Int("n", 300000, "observations of each throughput run")
	partitions := flag.Int("partitions", 4, "partitions of apitap.observations")
	rate := flag.Int("rate", 2000, "observations per second of the latency run")
	trials := flag.Int("trials", 5, "campaigns of the latency run")
	liveRate := flag.Int("live-rate", 100000, "observations per second the producer process publishes in the live runs")
	brokerBin := flag.String("kfakebroker", "", "run this kfakebroker binary (go build ./tools/kfakebroker) as the broker process; without it and without --brokers, an in-process kfake")
	brokersFlag := flag.String("brokers", "", "use these brokers (host:port,...) instead")
	brokerPID := flag.Int("broker-pid", 0, "with --brokers: the broker's process id, to count its CPU time")
	runs := flag.String("runs", "backlog,live,latency", "what to run: backlog, live, latency (comma-separated)")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	// the producer process of the live runs (internal)
	produceTopic := flag.String("produce", "", "(internal) publish --n observations to this topic at --live-rate and exit")
	flag.Parse()
	if *produceTopic != "" {
		if err := producer(strings.Split(*brokersFlag, ","), *produceTopic, *n, *liveRate); err != nil {
			fmt.Fprintln(os.Stderr, "apitap-correlate-bench producer:", err)
			os.Exit(1)
		}
		return
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "apitap-correlate-bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	b := &bench{n: *n, partitions: *partitions, liveRate: *liveRate, brokerPID: *brokerPID}
	if *brokersFlag != "" {
		b.brokers = strings.Split(*brokersFlag, ",")
	}
	err := b.start(*brokerBin)
	if err == nil {
		err = b.run(strings.Split(*runs, ","), *rate, *trials)
	}
	b.stop()
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "apitap-correlate-bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	n, partitions, liveRate int
	brokers                 []string
	brokerPID               int
	broker                  *exec.Cmd
	inproc                  *kfake.Cluster
	seq                     int
}

// start starts the broker: a kfakebroker process, or an in-process kfake.
func (b *bench) start(bin string) error {
	switch {
	case b.brokers != nil:
		return nil
	case bin != "":
		b.broker = exec.Command(bin, "-partitions", fmt.Sprint(b.partitions))
		out, err := b.broker.StdoutPipe()
		if err != nil {
			return err
		}
		if err := b.broker.Start(); err != nil {
			return err
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "listening ") {
			return fmt.Errorf("kfakebroker: %q %v", line, err)
		}
		b.brokers, b.brokerPID = []string{strings.TrimSpace(strings.TrimPrefix(line, "listening "))}, b.broker.Process.Pid
		fmt.Printf("broker: kfakebroker process %d at %s, %d partitions\n", b.brokerPID, b.brokers[0], b.partitions)
		return nil
	}
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(b.partitions), kfake.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	b.inproc, b.brokers = cl, cl.ListenAddrs()
	fmt.Printf("broker: in-process kfake (its CPU time is counted as the members'), %d partitions\n", b.partitions)
	return nil
}

func (b *bench) stop() {
	if b.broker != nil {
		b.broker.Process.Kill()
		b.broker.Wait()
	}
	if b.inproc != nil {
		b.inproc.Close()
	}
}

func (b *bench) run(runs []string, rate, trials int) error {
	fmt.Printf("machine: %d CPUs, load average %s\n", runtime.NumCPU(), loadavg())
	recs := records(b.n, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	for _, what := range runs {
		switch what {
		case "backlog", "live":
			for _, instances := range []int{1, 2} {
				if err := b.throughput(what, instances, recs); err != nil {
					return err
				}
			}
		case "latency":
			lat, err := latency(b.brokers, b.partitions, rate, trials)
			if err != nil {
				return err
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			fmt.Printf("detection latency (produce of the crossing observation to the central detection), %d campaigns at %d observations/s: min %v, median %v, max %v\n",
				len(lat), rate, lat[0].Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
		default:
			return fmt.Errorf("--runs: unknown run %q", what)
		}
	}
	fmt.Printf("machine after: load average %s\n", loadavg())
	return nil
}

// throughput runs one measurement: backlog (the observations are
// published first, then the members start) or live (the members run, a
// producer process publishes at --live-rate).
func (b *bench) throughput(mode string, instances int, recs []observation.Record) error {
	b.seq++
	topic := fmt.Sprintf("bench.observations.%s.%d.%d", mode, instances, b.seq)
	group := fmt.Sprintf("bench-%s-%d-%d", mode, instances, b.seq)
	var produce func() (cpu float64, err error)
	if mode == "backlog" {
		start := time.Now()
		if err := publish(b.brokers, topic, recs); err != nil {
			return err
		}
		fmt.Printf("backlog: %d observations published in %.2fs\n", len(recs), time.Since(start).Seconds())
	} else {
		produce = func() (float64, error) {
			self, err := os.Executable()
			if err != nil {
				return 0, err
			}
			cmd := exec.Command(self, "-produce", topic, "-brokers", strings.Join(b.brokers, ","), "-n", fmt.Sprint(b.n), "-live-rate", fmt.Sprint(b.liveRate))
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				return 0, fmt.Errorf("producer: %w", err)
			}
			u := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			return u.Seconds(), nil
		}
	}
	m, err := consume(b.brokers, topic, group, b.partitions, instances, uint64(b.n), produce, b.brokerPID)
	if err != nil {
		return err
	}
	nm := float64(m.n)
	fmt.Printf("%s, %d member(s): %d observations in %.2fs = %.0f observations/s; split %v (%d processed before every member had its partitions)\n",
		mode, instances, m.n, m.wall.Seconds(), nm/m.wall.Seconds(), m.per, uint64(b.n)-m.n)
	fmt.Printf("  %d redeliveries dropped, %d table writes\n", m.dups, m.writes)
	fmt.Printf("  CPU: members %.2fs = %.2f µs per observation (%.0f observations per CPU-second)", m.cpu, m.cpu/nm*1e6, nm/m.cpu)
	if b.brokerPID > 0 {
		fmt.Printf("; broker %.2fs", m.broker)
	}
	if mode == "live" {
		fmt.Printf("; producer %.2fs; producer ran %.2fs (target %d/s), members finished %v after it", m.producer, m.produced.Seconds(), b.liveRate, m.lag.Round(time.Millisecond))
	}
	fmt.Println()
	return nil
}

// publish writes the records to topic (the backlog).
func publish(brokers []string, topic string, recs []observation.Record) error {
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, Balancer: &kafkago.Hash{}, BatchSize: 5000, BatchBytes: 8 << 20, BatchTimeout: 5 * time.Millisecond, AllowAutoTopicCreation: true}
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

// producer is the producer process of a live run: n observations at rate
// per second, in batches every 10ms (encoded before the clock starts),
// through sarama's asynchronous producer (hash partitioner: FNV-1a of
// the key, as the sensors' kafka-go writer).
func producer(brokers []string, topic string, n, rate int) error {
	recs := records(n, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	all := make([]sarama.ProducerMessage, n)
	for i := range recs {
		all[i] = sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(recs[i].Key()), Value: sarama.ByteEncoder(observation.Append(nil, &recs[i]))}
	}
	sc := sarama.NewConfig()
	sc.Version = sarama.V2_1_0_0
	sc.Producer.RequiredAcks = sarama.WaitForLocal
	sc.Producer.Return.Successes = false
	sc.Producer.Flush.Frequency = 2 * time.Millisecond
	sc.Producer.Flush.Bytes = 512 << 10
	sc.ChannelBufferSize = 1 << 16
	p, err := sarama.NewAsyncProducer(brokers, sc)
	if err != nil {
		return err
	}
	var perr error
	errs := make(chan struct{})
	go func() {
		defer close(errs)
		for e := range p.Errors() {
			if perr == nil {
				perr = e.Err
			}
		}
	}()
	per := max(1, rate/100)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < n; i += per {
		<-tick.C
		for j := i; j < min(i+per, n); j++ {
			p.Input() <- &all[j]
		}
	}
	p.AsyncClose()
	<-errs
	return perr
}

// cpuOf is a process's CPU time in seconds (/proc/PID/stat, utime and
// stime in clock ticks of 100 Hz).
func cpuOf(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
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

func detectors() (correlate.Detectors, error) {
	return behavior.NewCentral(behavior.NewConfig(), "apitap-correlate")
}

// measured is one throughput run's result.
type measured struct {
	per                   []uint64
	n                     uint64 // observations measured
	dups, writes          uint64 // redeliveries dropped, table writes
	wall, produced, lag   time.Duration
	cpu, broker, producer float64
}

// consume starts instances correlators, waits until they share the
// partitions, has produce (when set) publish, and runs them until they
// processed n observations. The clock and the CPU counters run from the
// first observation processed to the last.
func consume(brokers []string, topic, group string, partitions, instances int, n uint64, produce func() (float64, error), brokerPID int) (*measured, error) {
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
			return nil, err
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
			return nil, fmt.Errorf("partitions not assigned to the %d instances in a minute", instances)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if produce != nil {
		time.Sleep(2 * time.Second) // the assignment settles
	}
	m := &measured{per: make([]uint64, len(cs))}
	type result struct {
		cpu  float64
		took time.Duration
		end  time.Time
		err  error
	}
	var prod chan result
	if produce != nil {
		prod = make(chan result, 1)
		go func() {
			s := time.Now()
			cpu, err := produce()
			prod <- result{cpu: cpu, took: time.Since(s), end: time.Now(), err: err}
		}()
	}
	// a backlog is consumed from the first assignment on: what was
	// processed before every member had its partitions is left out
	counts := func() (sum uint64) {
		m.dups, m.writes = 0, 0
		for i, c := range cs {
			st := c.Stats()
			m.per[i] = st.Processed
			m.dups += st.Duplicates
			m.writes += st.TableWrites
			sum += st.Processed + st.Duplicates + st.Malformed // a producer's retry may deliver twice
		}
		return sum
	}
	base := counts()
	var base0 []uint64
	start := time.Now()
	var first time.Time
	var cpu0, broker0 float64
	for {
		sum := counts()
		if sum > base && first.IsZero() {
			first, cpu0, broker0 = time.Now(), cpuSelf(), cpuOf(brokerPID)
			base, base0 = sum, append([]uint64(nil), m.per...)
		}
		if sum >= n {
			break
		}
		if time.Since(start) > 10*time.Minute || first.IsZero() && time.Since(start) > time.Minute {
			return nil, fmt.Errorf("%d of %d observations processed in 10 minutes", sum, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	end := time.Now()
	m.wall, m.cpu, m.broker = end.Sub(first), cpuSelf()-cpu0, cpuOf(brokerPID)-broker0
	m.n = n - base
	for i := range m.per {
		m.per[i] -= base0[i]
	}
	cancel()
	wg.Wait()
	if prod != nil {
		r := <-prod
		if r.err != nil {
			return nil, r.err
		}
		m.producer, m.produced, m.lag = r.cpu, r.took, end.Sub(r.end)
	}
	return m, nil
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
