package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves the Go profiler on its own listener (EPR's -httpprof),
// so that it is never reachable through the registry's address; the
// returned function stops it.
func (s *Server) servePprof() (func(), error) {
	ln, err := net.Listen("tcp", s.cfg.PprofAddr)
	if err != nil {
		return nil, fmt.Errorf("pprof listener on %s: %w", s.cfg.PprofAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	s.log.Info("serving pprof", "addr", ln.Addr().String())
	return func() { hs.Close() }, nil
}

// DryRun loads the index once, as Serve starts with, and logs what it
// found, then returns without listening, indexing or publishing (EPR's
// -dry-run: check a configuration before deploying it).
func (s *Server) DryRun(ctx context.Context) error {
	if err := s.Registry.Reload(ctx); err != nil {
		return fmt.Errorf("dry run: %w", err)
	}
	s.Registry.Probe(ctx)
	if !s.Registry.Healthy() {
		return fmt.Errorf("dry run: not healthy: %s", s.Registry.HealthNow().Reason)
	}
	cat := s.Registry.Catalog()
	s.log.Info("dry run: index loaded; not serving", "version", s.cfg.Version, "cursor", cat.Cursor(), "revisions", cat.Len())
	return nil
}
