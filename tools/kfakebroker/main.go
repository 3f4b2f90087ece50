// Command kfakebroker runs franz-go's kfake, an in-memory Kafka-protocol
// broker, as a separate process on a loopback port, for apitap's tests of
// the Kafka exporter. It prints "listening HOST:PORT" when ready and runs
// until killed. Not for production.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "port (0: a free one)")
	host := flag.String("host", "127.0.0.1", "address to listen on and advertise (another namespace's clients reach it there)")
	partitions := flag.Int("partitions", 3, "partitions of auto-created topics")
	saslMech := flag.String("sasl-mechanism", "", "require SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	saslUser := flag.String("sasl-user", "apitap", "SASL user")
	saslPass := flag.String("sasl-password", "", "SASL password")
	cert := flag.String("tls-cert", "", "serve TLS with this certificate (PEM)")
	key := flag.String("tls-key", "", "and this key")
	clientCA := flag.String("tls-client-ca", "", "require client certificates signed by this CA (mTLS)")
	flag.Parse()
	opts := []kfake.Opt{kfake.Ports(*port), kfake.NumBrokers(1), kfake.DefaultNumPartitions(*partitions), kfake.AllowAutoTopicCreation(),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(*host, p))
		})}
	if *saslMech != "" {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(*saslMech, *saslUser, *saslPass))
	}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kfakebroker:", err)
			os.Exit(1)
		}
		tc := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if *clientCA != "" {
			pem, err := os.ReadFile(*clientCA)
			if err != nil {
				fmt.Fprintln(os.Stderr, "kfakebroker:", err)
				os.Exit(1)
			}
			tc.ClientCAs = x509.NewCertPool()
			tc.ClientCAs.AppendCertsFromPEM(pem)
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
		opts = append(opts, kfake.TLS(tc))
	}
	c, err := kfake.NewCluster(opts...)
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
