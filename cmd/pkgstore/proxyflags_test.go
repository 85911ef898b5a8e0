package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"pkgstore/internal/registry/proxy"
	"pkgstore/internal/server"
)

// TestProxyFailureFlags: the upstream failure flags reach the proxy's
// config; 0 turns a bound off (negative in the config, where 0 is the
// default); nonsense is a usage error.
func TestProxyFailureFlags(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		want    server.ProxyConfig
		swr     time.Duration
		sie     time.Duration
		wantErr string
	}{
		{nil, server.ProxyConfig{Timeout: proxy.DefaultTimeout, MaxFails: proxy.DefaultMaxFails, FailTimeout: proxy.DefaultFailTimeout, StaleMaxBytes: proxy.DefaultStaleMaxBytes}, 0, 0, ""},
		{[]string{"--proxy-timeout", "2s", "--proxy-max-fails", "5", "--proxy-fail-timeout", "1m", "--proxy-stale-max-bytes", "1MB", "--stale-while-revalidate", "30s", "--stale-if-error", "24h"},
			server.ProxyConfig{Timeout: 2 * time.Second, MaxFails: 5, FailTimeout: time.Minute, StaleMaxBytes: 1 << 20}, 30 * time.Second, 24 * time.Hour, ""},
		{[]string{"--proxy-timeout", "0", "--proxy-max-fails", "0", "--proxy-stale-max-bytes", "0"},
			server.ProxyConfig{Timeout: -1, MaxFails: -1, FailTimeout: proxy.DefaultFailTimeout, StaleMaxBytes: -1}, 0, 0, ""},
		{[]string{"--proxy-timeout", "-1s"}, server.ProxyConfig{}, 0, 0, "must not be negative"},
		{[]string{"--proxy-fail-timeout", "0s"}, server.ProxyConfig{}, 0, 0, "--proxy-fail-timeout must be positive"},
		{[]string{"--proxy-stale-max-bytes", "lots"}, server.ProxyConfig{}, 0, 0, "--proxy-stale-max-bytes"},
		{[]string{"--proxy-cache-max-bytes", "0", "--proxy-min-rate", "0"}, server.ProxyConfig{Timeout: proxy.DefaultTimeout, MaxFails: proxy.DefaultMaxFails,
			FailTimeout: proxy.DefaultFailTimeout, StaleMaxBytes: proxy.DefaultStaleMaxBytes, MinRate: -1}, 0, 0, ""},
		{[]string{"--stale-if-error", "-1s"}, server.ProxyConfig{}, 0, 0, "--stale-while-revalidate and --stale-if-error must not be negative"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var cfg server.Config
			f := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			read := proxyCacheFlags(f, &cfg)
			if err := f.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := read()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Proxy
			if got.Timeout != tt.want.Timeout || got.MaxFails != tt.want.MaxFails || got.FailTimeout != tt.want.FailTimeout || got.StaleMaxBytes != tt.want.StaleMaxBytes || slices.Contains(tt.args, "--proxy-cache-max-bytes") && got.MaxBytes != tt.want.MaxBytes || (tt.want.MinRate != 0 && got.MinRate != tt.want.MinRate) ||
				cfg.StaleWhileRevalidate != tt.swr || cfg.StaleIfError != tt.sie {
				t.Errorf("got %v %d %v %d (cache %d, min rate %d), swr %v sie %v", got.Timeout, got.MaxFails, got.FailTimeout, got.StaleMaxBytes, got.MaxBytes, got.MinRate, cfg.StaleWhileRevalidate, cfg.StaleIfError)
			}
		})
	}
}
