package server

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// TLSConfig turns HTTPS on for the API listener (not the metrics one).
type TLSConfig struct {
	CertFile, KeyFile string
	// MinVersion is a tls.VersionTLS1x constant; zero means TLS 1.2, Go's
	// server default.
	MinVersion uint16
}

// tlsVersions are the values --tls-min-version accepts, as EPR's flag.
var tlsVersions = map[string]uint16{
	"1.0": tls.VersionTLS10,
	"1.1": tls.VersionTLS11,
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// ParseTLSVersion reads "1.0" to "1.3" ("" is zero: the default).
func ParseTLSVersion(s string) (uint16, error) {
	if s == "" {
		return 0, nil
	}
	v, ok := tlsVersions[s]
	if !ok {
		return 0, fmt.Errorf("unsupported TLS version %q: want 1.0, 1.1, 1.2 or 1.3", s)
	}
	return v, nil
}

// load checks the configuration and reads the key pair, so that a bad file
// stops the start instead of the first handshake.
func (c TLSConfig) load() (*tls.Config, error) {
	if c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, errors.New("TLS needs both a certificate and a key")
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS key pair %s, %s: %w", c.CertFile, c.KeyFile, err)
	}
	min := c.MinVersion
	if min == 0 {
		min = tls.VersionTLS12
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   min,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}
