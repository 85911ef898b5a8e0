package pkgpath

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/testkit/sharedtest"
)

// TestRevisionOfMatchesDecoding: a scan builds each revision from the
// document's structure (catalog.Parser.RevisionOf with
// packagedoc.Package.Decoded) instead of decoding the document it has just
// encoded. For every package of the v1 sample and of EPR's test packages
// that loads, the revision must be the one decoding gives: the same
// fields, the same /search form, the same compressed document.
func TestRevisionOfMatchesDecoding(t *testing.T) {
	roots := []string{
		filepath.Join(sharedtest.UnpackV1(t), "packages"),
		filepath.Join(sharedtest.Dir(t), "testdata", "epr-packages"),
	}
	cands, err := walk(context.Background(), roots, func(string, string) {})
	if err != nil {
		t.Fatal(err)
	}
	pr := catalog.NewParser()
	var buf bytes.Buffer
	compared := 0
	for _, c := range cands {
		for _, validate := range []bool{false, true} {
			l, err := load(c, Options{Validate: validate}, false, &buf)
			if err != nil {
				continue // refused either way: nothing to compare
			}
			fromJSON, jerr := pr.Revision(index.Entry{ID: l.ID, Manifest: l.Doc})
			fromFields, ferr := pr.RevisionOf(l.ID, l.Fields, l.FormatVersion, l.Doc)
			if (jerr == nil) != (ferr == nil) {
				t.Errorf("%s: decoding: %v; from the structure: %v", c.path, jerr, ferr)
				continue
			}
			if jerr != nil {
				if jerr.Error() != ferr.Error() {
					t.Errorf("%s: decoding refuses with %q, the structure with %q", c.path, jerr, ferr)
				}
				continue
			}
			if !reflect.DeepEqual(fromJSON, fromFields) {
				t.Errorf("%s: the revisions differ:\ndecoded:   %+v\nstructure: %+v", c.path, *fromJSON, *fromFields)
			}
			compared++
		}
	}
	t.Logf("%d revisions compared", compared)
	if compared < 400 {
		t.Fatalf("only %d revisions compared: the corpora were not found or did not load", compared)
	}
}
