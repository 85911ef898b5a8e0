package catalog

import (
	"bytes"
	"strings"
	"testing"
)

// heldElsewhere gives a document the catalog does not hold, counting reads.
type heldElsewhere struct {
	doc   []byte
	reads int
}

func (h *heldElsewhere) Document() ([]byte, error) { h.reads++; return h.doc, nil }

// TestRevisionAt: a revision built without its document serves, and
// searches, as one built with it; the document comes from its source on
// every read; a snapshot, which must be whole, refuses it.
func TestRevisionAt(t *testing.T) {
	e := doc("acme", "1.2.0", `,"title":"kept elsewhere"`)
	held, err := NewParser().Revision(e)
	if err != nil {
		t.Fatal(err)
	}
	src := &heldElsewhere{doc: e.Manifest}
	at, err := NewParser().RevisionAt(e, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(at.doc) != 0 {
		t.Errorf("RevisionAt kept %d bytes of document", len(at.doc))
	}
	if !bytes.Equal(at.base, held.base) {
		t.Errorf("search form %s, want %s", at.base, held.base)
	}
	catalogOf := func(r *Revision) *Catalog {
		b := NewBuilder("", 1)
		b.Add(r)
		c, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cHeld, cAt := catalogOf(held), catalogOf(at)
	want, err := cHeld.Document(held)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := cAt.Document(at)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Document: %q, %v; want %q", got, err, want)
		}
	}
	if src.reads != 2 {
		t.Errorf("the source was read %d times for two documents", src.reads)
	}
	var snap bytes.Buffer
	if err := EncodeSnapshot(&snap, cAt, IndexIdentity{}); err == nil || !strings.Contains(err.Error(), "not held") {
		t.Errorf("snapshot of a catalog without its documents: %v", err)
	}
}
