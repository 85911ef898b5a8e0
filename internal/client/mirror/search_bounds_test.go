package mirror_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pkgstore/internal/client/mirror"
)

// TestSelectEndlessSearch is the attack: an upstream whose /search answer
// never ends (one endless string, or an endless array of revisions). The
// selection stops after MaxSearchSize bytes with ErrAnswerTooLarge, once
// (it is not retried), instead of holding the upstream's answer in memory
// until the process dies.
func TestSelectEndlessSearch(t *testing.T) {
	for _, tc := range []struct {
		name        string
		open, chunk string
	}{
		{"endless string", `[{"name":"`, strings.Repeat("a", 64<<10)},
		{"endless array", `[`, strings.Repeat(`{"name":"a","version":"1.0.0","download":"/epr/a/a-1.0.0.zip"},`, 1<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent, asked atomic.Int64
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.open)
				for r.Context().Err() == nil {
					n, err := io.WriteString(w, tc.chunk)
					sent.Add(int64(n))
					if err != nil {
						return
					}
				}
			}))
			defer up.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, _, err := mirror.Select(ctx, up.Client(), up.URL, mirror.Filters{AllVersions: true})
			if !errors.Is(err, mirror.ErrAnswerTooLarge) {
				t.Fatalf("Select over an endless /search: %v, want ErrAnswerTooLarge", err)
			}
			if got := asked.Load(); got != 1 {
				t.Errorf("/search asked %d times, want once (a too-large answer is not retried)", got)
			}
			// The server may have sent a little more than the bound into
			// the connection's buffers, never much more.
			if got := sent.Load(); got > mirror.MaxSearchSize+(16<<20) {
				t.Errorf("upstream sent %d MiB, bound is %d MiB", got>>20, mirror.MaxSearchSize>>20)
			}
		})
	}
}
