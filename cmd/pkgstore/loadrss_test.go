package main

import (
	"flag"
	"net/http"
	"testing"
	"time"
)

var synthStore = flag.String("synth-store", "", "data directory of a store for BenchmarkServeStartRSS (the synthetic 20,000-revision store of docs/benchmarks.md)")

// BenchmarkServeStartRSS starts `pkgstore serve --read-only` on a store,
// waits until /health answers 200 (the index is loaded), and reports the
// child's peak resident set (VmHWM) and the load time it logged; ns/op is
// the time from start to healthy. On the synthetic 20,000-revision store:
//
//	go test ./internal/registry -run TestWriteSynthStore -synth-store /tmp/synth20k
//	go test ./cmd/pkgstore -run '^$' -bench ServeStartRSS -benchtime 3x -synth-store /tmp/synth20k
//
// The figures are reported, not asserted: they depend on the store and on
// the machine's load.
func BenchmarkServeStartRSS(b *testing.B) {
	if *synthStore == "" {
		b.Skip("pass -synth-store DIR")
	}
	var peak, load float64
	for i := 0; i < b.N; i++ {
		p := startServe(b, nil, "--read-only", "--data", *synthStore)
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			resp, err := http.Get("http://" + p.Addr + "/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("not healthy after a minute: %v", err)
			}
		}
		b.StopTimer()
		peak = max(peak, float64(peakRSS(b, p.cmd.Process.Pid))/(1<<20))
		for _, rec := range p.Logs() {
			if rec["message"] != "index loaded" {
				continue
			}
			// ECS logs the load's duration as event.duration, in ns.
			if ns, ok := rec["event.duration"].(float64); ok {
				load = max(load, ns/1e9)
			}
		}
		p.stop(b)
		b.StartTimer()
	}
	b.ReportMetric(peak, "MB-peak-RSS")
	b.ReportMetric(load, "s-load")
}
