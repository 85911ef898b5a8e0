package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"

	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry/pkgpath"
	"pkgstore/internal/registry/ui"
	"pkgstore/internal/storage"
)

// withUI mounts the web catalog at /ui/ in front of next (the registry,
// possibly in proxy mode); every other path goes to next untouched. The
// catalog shows the local index, with the store's yank and provenance
// records.
func (s *Server) withUI(next http.Handler) (http.Handler, error) {
	if s.cfg.NoUI {
		return next, nil
	}
	cfg := ui.Config{
		Catalog:   s.Registry.Catalog,
		Public:    s.Buckets.Public,
		Yanks:     uiYanks{s.Yanks},
		Artifacts: uiArtifacts{s.Buckets.Internal},
		Local:     uiLocal{s},
		Logger:    s.log,
		Internal:  s.Buckets.Internal,
		ReadOnly:  s.cfg.ReadOnly,
		PublicURL: s.Registry.PublicURL(),
	}
	if hid := s.Registry.HiddenRevisions(); hid != nil {
		cfg.Hidden = hid
	}
	h, err := ui.New(cfg)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ui.Mounts(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}

// uiYanks gives the catalog the yanked versions of a package.
type uiYanks struct{ s *yank.Store }

func (y uiYanks) Yanked(ctx context.Context, name string) (map[string]ui.Yank, error) {
	all, err := y.s.Yanked(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]ui.Yank{}
	for id, st := range all {
		if id.Name == name {
			out[id.Version] = ui.Yank{Reason: st.Reason, At: st.Time}
		}
	}
	return out, nil
}

// uiArtifacts gives the catalog a revision's provenance record: the zip's
// sha256 and the key its signature was verified with.
type uiArtifacts struct{ b *storage.Bucket }

func (a uiArtifacts) Artifact(ctx context.Context, id packageid.ID) (*ui.ArtifactRecord, error) {
	rev, err := provenance.Read(ctx, a.b, id)
	if storage.IsNotFound(err) {
		return nil, nil // published by other means: nothing recorded
	}
	if err != nil {
		return nil, err
	}
	rec := &ui.ArtifactRecord{SHA256: rev.SHA256, Published: rev.Published}
	if rev.Signer != nil {
		rec.SignerFingerprint = rev.Signer.Fingerprint
	}
	return rec, nil
}

// uiLocal gives the catalog the files of revisions served from package
// paths (the store's own revisions win a duplicate, as on the EPR routes).
type uiLocal struct{ s *Server }

func (l uiLocal) pkg(id packageid.ID) *pkgpath.Package {
	if l.s.Local == nil {
		return nil
	}
	rev, ok := l.s.Registry.Catalog().Lookup(id)
	if !ok {
		return nil
	}
	return l.s.Local.Current().Package(rev)
}

func (l uiLocal) Open(id packageid.ID, rel string) (io.ReadCloser, int64, bool, error) {
	p := l.pkg(id)
	if p == nil {
		return nil, 0, false, nil
	}
	f, err := p.OpenStatic(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, true, fmt.Errorf("%s %s: %w: %w", id, rel, fs.ErrNotExist, storage.ErrNotExist)
	}
	if err != nil {
		return nil, 0, true, err
	}
	return f, f.Size, true, nil
}

func (l uiLocal) ZipSize(id packageid.ID) (int64, bool) {
	p := l.pkg(id)
	if p == nil {
		return 0, false
	}
	if !p.Zip {
		return 0, true
	}
	fi, err := os.Stat(p.Path)
	if err != nil {
		return 0, true
	}
	return fi.Size(), true
}
