package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/registry"
	"pkgstore/internal/storage"
)

// TrustConfig configures the signed index statements (docs/trust.md).
type TrustConfig struct {
	// SigningKey is an armored OpenPGP private key file: the indexer signs
	// a statement for each cursor with it (serve --index-signing-key).
	SigningKey string
	// SigningPassphraseFile unlocks an encrypted SigningKey.
	SigningPassphraseFile string
	// Validity is each statement's lifetime (0: indexsig.DefaultValidity).
	Validity time.Duration
	// Keyrings are public key files the registry checks each new cursor's
	// statement with (serve --index-keyring); none: no check.
	Keyrings []string
}

// SignIndexer makes ix issue a signed statement before each cursor it
// moves, when cfg names a signing key; it returns the issuer (nil without
// a key).
func SignIndexer(ix *index.Indexer, b *storage.Buckets, cfg TrustConfig, log *slog.Logger) (*indexsig.Issuer, error) {
	if cfg.SigningKey == "" {
		return nil, nil
	}
	if cfg.Validity < 0 {
		return nil, fmt.Errorf("--index-validity %s is negative", cfg.Validity)
	}
	key, err := signature.LoadSigningKeyFile(cfg.SigningKey, cfg.SigningPassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("--index-signing-key: %w", err)
	}
	is := &indexsig.Issuer{Buckets: b, Key: key, Validity: cfg.Validity, Log: log}
	ix.BeforeCommit = is.Commit
	return is, nil
}

// trustRegistry sets the registry's statement check up from cfg.
func (s *Server) trustRegistry(rcfg *registry.Config) error {
	if len(s.cfg.Trust.Keyrings) == 0 {
		return nil
	}
	kr, err := signature.LoadKeyring(s.cfg.Trust.Keyrings...)
	if err != nil {
		return fmt.Errorf("--index-keyring: %w", err)
	}
	rcfg.IndexKeyring = kr
	rcfg.OnIndexRefused = s.Metrics.ObserveIndexRefused
	return nil
}

// withTrust serves the signed index documents before h.
func (s *Server) withTrust(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, registry.TrustPrefix) {
			s.Registry.ServeTrust(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// resignLoop triggers indexing passes often enough that an idle store's
// statement is re-issued (past half its validity) long before it expires.
func (s *Server) resignLoop(ctx context.Context) {
	v := s.cfg.Trust.Validity
	if v <= 0 {
		v = indexsig.DefaultValidity
	}
	t := time.NewTicker(max(v/8, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Indexer.Trigger()
		}
	}
}
