// Command kfakebroker runs franz-go's kfake, an in-memory Kafka-protocol
// broker, as a separate process on a loopback port, for apitap's tests of
// the Kafka exporter. It prints "listening HOST:PORT" when ready and runs
// until killed. Not for production.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: a free one)")
	partitions := flag.Int("partitions", 3, "partitions of auto-created topics")
	flag.Parse()
	c, err := kfake.NewCluster(kfake.Ports(*port), kfake.NumBrokers(1), kfake.DefaultNumPartitions(*partitions), kfake.AllowAutoTopicCreation())
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println("listening", c.ListenAddrs()[0])
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
