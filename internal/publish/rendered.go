package publish

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/markdown"
	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
)

// renderText renders the revision's README and reads its changelog once,
// here, under markdown.DefaultBudget, for the catalog to serve as stored
// (storage.RenderedKey): no page view runs the Markdown parser. It
// returns nil, and nothing is stored, when a busy machine cut the render
// short (the catalog renders it at its first view instead); an error only
// when ctx ended or the zip could not be read.
func (p *Publisher) renderText(ctx context.Context, id packageid.ID, doc *packagedoc.Package, pkg *archive.Package) ([]byte, error) {
	readme := ""
	if doc.Readme != nil {
		readme = *doc.Readme
	}
	rec, err := markdown.Build(ctx, id, readme, doc.Assets, readFrom(pkg.FS), markdown.DefaultBudget)
	if err != nil {
		return nil, fmt.Errorf("render package text: %w", err)
	}
	if rec.Starved() {
		return nil, nil
	}
	return rec.Marshal()
}

// readFrom reads package files from the opened zip, refusing more than
// limit bytes before inflating them.
func readFrom(fsys fs.FS) markdown.ReadFunc {
	return func(_ context.Context, rel string, limit int64) ([]byte, error) {
		f, err := fsys.Open(rel)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if st, err := f.Stat(); err != nil {
			return nil, err
		} else if st.IsDir() {
			return nil, fmt.Errorf("%s: %w", rel, fs.ErrNotExist)
		} else if st.Size() > limit {
			return nil, markdown.ErrTooLarge
		}
		data, err := io.ReadAll(io.LimitReader(f, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > limit {
			return nil, markdown.ErrTooLarge
		}
		return data, nil
	}
}
