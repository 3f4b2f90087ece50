// Package tlshellotest gives tests a real TLS ClientHello: the bytes
// crypto/tls sends first on a connection.
package tlshellotest

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/apitap/apitap/reassembly/tlshello"
)

// GoClientHello returns the ClientHello crypto/tls sends to serverName,
// offering h2 and http/1.1.
func GoClientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	cli, srv := net.Pipe()
	defer srv.Close()
	go func() {
		c := tls.Client(cli, &tls.Config{ServerName: serverName, NextProtos: []string{"h2", "http/1.1"}})
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Handshake() // fails once srv closes: only the hello matters
		cli.Close()
	}()
	srv.SetDeadline(time.Now().Add(5 * time.Second))
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		n, err := srv.Read(tmp)
		buf = append(buf, tmp[:n]...)
		_, perr := tlshello.Parse(buf)
		if perr == nil {
			return buf
		}
		if !errors.Is(perr, tlshello.ErrShort) || err != nil {
			t.Fatalf("reading the ClientHello: %v (read: %v)", perr, err)
		}
	}
}
