package exporter

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLS is the `tls` section of the sinks that speak TLS (syslog, webhook).
type TLS struct {
	CAFile     string `yaml:"ca_file"`     // PEM roots; default: the system's
	CertFile   string `yaml:"cert_file"`   // client certificate (mutual TLS)
	KeyFile    string `yaml:"key_file"`    // its key
	ServerName string `yaml:"server_name"` // name to verify; default: the host of the address
}

// Validate checks the section.
func (c TLS) Validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("tls: cert_file and key_file go together")
	}
	return nil
}

// Config builds the client tls.Config (TLS 1.2 or later, verified).
func (c TLS) Config(host string) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if t.ServerName == "" {
		t.ServerName = host
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
