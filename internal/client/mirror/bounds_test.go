package mirror_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/hostiletest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

// TestMirrorBoundsHostileUpstream: an upstream whose zip never ends, drips,
// lies about its length or comes with a garbage signature costs a mirror
// run at most the zip size limit on disk and a bounded time, into a
// bundle and into a store, and the run says why.
func TestMirrorBoundsHostileUpstream(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	big := packageid.ID{Name: "big", Version: "1.0.0"}
	const limit = 4 << 20
	cases := []struct {
		name      string
		o         hostiletest.Options
		cfg       func(*mirror.Config)
		want      string
		within    time.Duration
		noZipGets bool
	}{
		{"endless zip", hostiletest.Options{Zip: hostiletest.Endless}, nil, "more than the limit of 4194304 bytes (--max-zip-size)", 20 * time.Second, false},
		{"declared huge", hostiletest.Options{Zip: hostiletest.Huge}, nil, "1099511627776 bytes, over the limit of 4194304 bytes", 20 * time.Second, false},
		{"garbage signature", hostiletest.Options{Zip: hostiletest.Endless, GarbageSig: true}, nil, "big-1.0.0.zip.sig: signature is not a valid OpenPGP signature: openpgp: invalid data: tag byte does not have MSB set (checked before the zip was downloaded)", 10 * time.Second, true},
		{"signed by a stranger", hostiletest.Options{Zip: hostiletest.Endless, Key: sigtest.NewKey(t, "stranger")}, nil, "signature was made by a key that is not in the trusted keyring", 10 * time.Second, true},
		{"slow drip", hostiletest.Options{Zip: hostiletest.Endless, Rate: 2 << 10}, func(c *mirror.Config) {
			c.MinRate, c.StallWindow = 64<<10, 300*time.Millisecond
		}, "download stalled", 20 * time.Second, false},
		{"endless at a good rate", hostiletest.Options{Zip: hostiletest.Endless, Rate: 1 << 20}, func(c *mirror.Config) {
			c.MaxZipSize, c.RevisionTimeout = 1<<30, 1500*time.Millisecond
		}, "not downloaded within 1.5s", 20 * time.Second, false},
	}
	for _, c := range cases {
		for _, mode := range []string{"bundle", "store"} {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				if c.o.Key == nil {
					c.o.Key = key
				}
				c.o.Revisions = []packageid.ID{big}
				up := hostiletest.Start(t, c.o)
				tmp := t.TempDir()
				cfg := mirror.Config{From: up.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: key.Keyring, Retry: fastRetry, MaxZipSize: limit, TempDir: tmp}
				if mode == "store" {
					cfg.To = servertest.Start(t, servertest.Options{Key: key}).Client
				} else {
					cfg.Bundle = filepath.Join(tmp, "site.bundle")
				}
				if c.cfg != nil {
					c.cfg(&cfg)
				}
				stop := hostiletest.Watch(tmp)
				start := time.Now()
				sum, err := mirror.Run(context.Background(), cfg)
				took := time.Since(start)
				peak := stop()
				t.Logf("%s: %v, upstream sent %d bytes, peak %d bytes on disk, err %v", c.name, took.Round(time.Millisecond), up.Sent(), peak, err)
				if took > c.within {
					t.Errorf("run took %s, want under %s", took, c.within)
				}
				if peak > limit+1 {
					t.Errorf("peak %d bytes in the temporary folder, over the %d-byte limit", peak, limit)
				}
				if !up.WaitIdle(5 * time.Second) {
					t.Errorf("the upstream is still sending after the run ended (%d bytes)", up.Sent())
				}
				if c.noZipGets && up.Asked("/epr/big/"+big.ZipName()) != 0 {
					t.Errorf("the zip was asked for %d times after a garbage signature", up.Asked("/epr/big/"+big.ZipName()))
				}
				if sum == nil || sum.OK() {
					t.Fatalf("the run succeeded: %+v, %v", sum, err)
				}
				var reasons []string
				for _, f := range sum.Failed {
					reasons = append(reasons, f.Reasons...)
				}
				all := strings.Join(reasons, "; ")
				t.Logf("reasons: %s", all)
				if !strings.Contains(all, c.want) {
					t.Errorf("reasons %q, want %q", all, c.want)
				}
				if mode == "bundle" {
					if _, err := os.Stat(cfg.Bundle); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("bundle written: %v", err)
					}
					if c.name == "endless zip" && !errors.Is(err, mirror.ErrFatal) {
						t.Errorf("a bundle whose revision is too large did not stop the run: %v", err)
					}
				}
				if n := hostiletest.DirSize(tmp); n > 64<<10 {
					t.Errorf("%d bytes left in the temporary folder", n)
				}
			})
		}
	}
}
