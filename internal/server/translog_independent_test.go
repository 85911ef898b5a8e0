package server_test

// The independent checker of the transparency log: it imports nothing of
// pkgstore, only the standard library and the Go team's
// golang.org/x/mod/sumdb/tlog and note, and reads the store's HTTP
// endpoints as any outsider would (TestIndependentLogChecker drives it).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type indepTileReader struct {
	t    testing.TB
	base string
}

func (r indepTileReader) Height() int { return 8 }

func (r indepTileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := indepGet(r.base + "/api/v1/log/" + t.Path())
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (indepTileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func indepGet(url string) ([]byte, error) { return indepGetMax(url, 1<<20) }

func indepGetMax(url string, limit int64) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", url, limit)
	}
	return body, nil
}

// indepOpen verifies a signed tree head with the verifier key alone.
func indepOpen(t testing.TB, vkey string, signed []byte) tlog.Tree {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("signed tree head does not verify: %v", err)
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// indepLatest fetches and verifies /api/v1/log/latest.
func indepLatest(t testing.TB, base, vkey string) (tlog.Tree, []byte) {
	t.Helper()
	signed, err := indepGet(base + "/api/v1/log/latest")
	if err != nil {
		t.Fatal(err)
	}
	return indepOpen(t, vkey, signed), signed
}

// indepCheckRevision looks NAME@VERSION up, proves the record is in the
// signed tree head that comes with it, downloads the zip the store serves
// and checks that its SHA-256 and size are the record's.
func indepCheckRevision(t testing.TB, base, vkey, name, version string) {
	t.Helper()
	body, err := indepGet(base + "/api/v1/log/lookup/" + name + "@" + version)
	if err != nil {
		t.Fatal(err)
	}
	id, text, signed, err := tlog.ParseRecord(body)
	if err != nil {
		t.Fatalf("lookup %s@%s: %v", name, version, err)
	}
	tree := indepOpen(t, vkey, signed)
	hr := tlog.TileHashReader(tree, indepTileReader{t: t, base: base})
	proof, err := tlog.ProveRecord(tree.N, id, hr)
	if err != nil {
		t.Fatalf("%s@%s: inclusion proof of record %d: %v", name, version, id, err)
	}
	if err := tlog.CheckRecord(proof, tree.N, tree.Hash, id, tlog.RecordHash(text)); err != nil {
		t.Fatalf("%s@%s: record %d not in the tree of size %d: %v", name, version, id, tree.N, err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		k, v, _ := strings.Cut(line, " ")
		fields[k] = v
	}
	if fields["event"] != "publish" || fields["name"] != name || fields["version"] != version {
		t.Fatalf("lookup %s@%s answered record %d: %q", name, version, id, text)
	}
	zip, err := indepGetMax(base+"/epr/"+name+"/"+name+"-"+version+".zip", 300<<20)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(zip)
	if got := hex.EncodeToString(h[:]); got != fields["sha256"] || fmt.Sprint(len(zip)) != fields["size"] {
		t.Fatalf("%s@%s: the store serves sha256 %s (%d bytes), the log records %s (%s bytes)", name, version, got, len(zip), fields["sha256"], fields["size"])
	}
}

// indepCheckConsistency proves that the tree of oldSigned is a prefix of
// the tree of newSigned.
func indepCheckConsistency(t testing.TB, base, vkey string, oldSigned, newSigned []byte) {
	t.Helper()
	old, cur := indepOpen(t, vkey, oldSigned), indepOpen(t, vkey, newSigned)
	if old.N >= cur.N {
		t.Fatalf("the tree did not grow: %d then %d", old.N, cur.N)
	}
	hr := tlog.TileHashReader(cur, indepTileReader{t: t, base: base})
	proof, err := tlog.ProveTree(cur.N, old.N, hr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(proof, cur.N, cur.Hash, old.N, old.Hash); err != nil {
		t.Fatalf("the tree of size %d is not a prefix of the tree of size %d: %v", old.N, cur.N, err)
	}
	if !bytes.Contains(newSigned, []byte("\n\n")) {
		t.Fatal("signed head is not a note")
	}
}
