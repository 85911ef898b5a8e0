// Package logcheck checks a store's transparency log from outside, over
// its HTTP API (/api/v1/log/), with golang.org/x/mod/sumdb/tlog and note:
// a signed tree head verified with the log's verifier key, a record's
// inclusion in it, a later head's consistency with an earlier one, and
// the records themselves, read from data tiles proved against the tree.
// verify, mirror, import and `log monitor` use it.
package logcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/govern/translog"
	"pkgstore/internal/pkg/packageid"
)

// ErrBroken is matched by every error that says the log lied: a bad
// signature, a proof that fails, a record that does not match.
var ErrBroken = errors.New("transparency log check failed")

// ErrNotLogged: the store says the revision is not in its log.
var ErrNotLogged = errors.New("not in the transparency log")

// maxTile bounds a tile's body: 256 hashes, or 256 records.
const maxTile = 256 * (translog.MaxRecordSize + 1)

// Checker reads and checks one store's log.
type Checker struct {
	base     string
	http     *http.Client
	verifier note.Verifier
}

// New returns a checker of the log of the store at registry (its base
// URL), trusting tree heads signed by verifier's key.
func New(registry string, verifier note.Verifier, hc *http.Client) *Checker {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Checker{base: strings.TrimRight(registry, "/") + "/api/v1/log/", http: hc, verifier: verifier}
}

func broken(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBroken, fmt.Sprintf(format, args...))
}

func (c *Checker) get(ctx context.Context, path string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, exitcode.Unreach(fmt.Errorf("GET %s: %w", req.URL, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, exitcode.Unreach(fmt.Errorf("GET %s: %w", req.URL, err))
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("GET %s: %w (404 %s)", req.URL, ErrNotLogged, bytes.TrimSpace(body[:min(len(body), 200)]))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, exitcode.Unreach(fmt.Errorf("GET %s: %s", req.URL, resp.Status))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	case int64(len(body)) > limit:
		return nil, broken("GET %s: body larger than %d bytes", req.URL, limit)
	}
	return body, nil
}

// OpenHead verifies a signed tree head and returns its tree.
func (c *Checker) OpenHead(signed []byte) (tlog.Tree, error) {
	n, err := note.Open(signed, note.VerifierList(c.verifier))
	if err != nil {
		return tlog.Tree{}, broken("signed tree head: %v", err)
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return tlog.Tree{}, broken("signed tree head: %v", err)
	}
	return tree, nil
}

// Latest fetches and verifies the latest signed tree head.
func (c *Checker) Latest(ctx context.Context) (tlog.Tree, []byte, error) {
	signed, err := c.get(ctx, "latest", 8<<10)
	if err != nil {
		return tlog.Tree{}, nil, err
	}
	tree, err := c.OpenHead(signed)
	return tree, signed, err
}

// Lookup is a record the store looked up, proved included in Tree.
type Lookup struct {
	ID     int64
	Text   []byte
	Entry  translog.Entry
	Tree   tlog.Tree
	Signed []byte
}

// Lookup fetches id's publication record and proves it is in the signed
// tree head that comes with it.
func (c *Checker) Lookup(ctx context.Context, id packageid.ID) (*Lookup, error) {
	body, err := c.get(ctx, "lookup/"+id.Name+"@"+id.Version, 16<<10)
	if err != nil {
		return nil, err
	}
	n, text, signed, err := tlog.ParseRecord(body)
	if err != nil {
		return nil, broken("lookup %s: %v", id, err)
	}
	tree, err := c.OpenHead(signed)
	if err != nil {
		return nil, err
	}
	e, err := translog.ParseEntry(text)
	if err != nil {
		return nil, broken("lookup %s: record %d: %v", id, n, err)
	}
	if e.Event != translog.EventPublish || e.ID() != id {
		return nil, broken("lookup %s: record %d is about %s %s", id, n, e.Event, e.ID())
	}
	if err := c.CheckInclusion(ctx, tree, n, text); err != nil {
		return nil, err
	}
	return &Lookup{ID: n, Text: text, Entry: e, Tree: tree, Signed: signed}, nil
}

// CheckRevision proves that id's publication is in the log with the
// given SHA-256 (hex) and returns the lookup.
func (c *Checker) CheckRevision(ctx context.Context, id packageid.ID, sha256 string) (*Lookup, error) {
	lk, err := c.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(lk.Entry.SHA256, sha256) {
		return lk, broken("%s: the log records sha256 %s (record %d), the file has %s", id, lk.Entry.SHA256, lk.ID, sha256)
	}
	return lk, nil
}

// hashes reads the tree's stored hashes through tiles it proves.
func (c *Checker) hashes(ctx context.Context, tree tlog.Tree) tlog.HashReader {
	return tlog.TileHashReader(tree, &tileReader{ctx: ctx, c: c})
}

// CheckInclusion proves that record n with text is in tree.
func (c *Checker) CheckInclusion(ctx context.Context, tree tlog.Tree, n int64, text []byte) error {
	if n < 0 || n >= tree.N {
		return broken("record %d is outside the tree of size %d", n, tree.N)
	}
	p, err := tlog.ProveRecord(tree.N, n, c.hashes(ctx, tree))
	if err != nil {
		return c.proofErr(fmt.Sprintf("inclusion of record %d in tree %d", n, tree.N), err)
	}
	if err := tlog.CheckRecord(p, tree.N, tree.Hash, n, tlog.RecordHash(text)); err != nil {
		return broken("record %d is not in the tree of size %d: %v", n, tree.N, err)
	}
	return nil
}

// CheckConsistency proves that old is a prefix of new (either order of
// sizes; two heads of one size must be the same tree).
func (c *Checker) CheckConsistency(ctx context.Context, old, new tlog.Tree) error {
	if old.N > new.N {
		old, new = new, old
	}
	if old.N == new.N {
		if old.Hash != new.Hash {
			return broken("two signed tree heads of size %d with different hashes (%s and %s): the log forked", old.N, old.Hash, new.Hash)
		}
		return nil
	}
	if old.N == 0 {
		return nil
	}
	p, err := tlog.ProveTree(new.N, old.N, c.hashes(ctx, new))
	if err != nil {
		return c.proofErr(fmt.Sprintf("consistency of tree %d with tree %d", old.N, new.N), err)
	}
	if err := tlog.CheckTree(p, new.N, new.Hash, old.N, old.Hash); err != nil {
		return broken("the tree of size %d is not a prefix of the tree of size %d: %v", old.N, new.N, err)
	}
	return nil
}

// proofErr keeps a failure to reach the store apart from a proof that
// does not hold (a tile the tree does not authenticate).
func (c *Checker) proofErr(what string, err error) error {
	if exitcode.Of(err) == exitcode.Unreachable || errors.Is(err, ErrBroken) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return broken("%s: %v", what, err)
}

// Records reads records [from, to) of tree from its data tiles and proves
// each against the tree's record hashes.
func (c *Checker) Records(ctx context.Context, tree tlog.Tree, from, to int64, each func(n int64, text []byte) error) error {
	if from < 0 || to > tree.N || from > to {
		return fmt.Errorf("records [%d, %d) of a tree of size %d", from, to, tree.N)
	}
	hr := c.hashes(ctx, tree)
	for start := from &^ (1<<translog.Height - 1); start < to; start += 1 << translog.Height {
		w := min(int64(1<<translog.Height), tree.N-start)
		t := tlog.Tile{H: translog.Height, L: -1, N: start >> translog.Height, W: int(w)}
		data, err := c.get(ctx, t.Path(), maxTile)
		if err != nil {
			return err
		}
		texts := bytes.SplitAfter(data, []byte("\n\n"))
		if n := len(texts); n > 0 && len(texts[n-1]) == 0 {
			texts = texts[:n-1]
		}
		if len(texts) != int(w) || !bytes.HasSuffix(data, []byte("\n\n")) {
			return broken("data tile %s: %d records, want %d", t.Path(), len(texts), w)
		}
		idx := make([]int64, w)
		for i := range idx {
			idx[i] = tlog.StoredHashIndex(0, start+int64(i))
		}
		hs, err := hr.ReadHashes(idx)
		if err != nil {
			return c.proofErr("record hashes of "+t.Path(), err)
		}
		for i, text := range texts {
			n := start + int64(i)
			text = text[:len(text)-1]
			if tlog.RecordHash(text) != hs[i] {
				return broken("record %d in data tile %s does not match the tree's hash of it", n, t.Path())
			}
			if n < from || n >= to {
				continue
			}
			if err := each(n, text); err != nil {
				return err
			}
		}
	}
	return nil
}

// tileReader fetches hash tiles; TileHashReader proves them against the
// tree before anything uses them.
type tileReader struct {
	ctx context.Context
	c   *Checker
}

func (r *tileReader) Height() int { return translog.Height }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.c.get(r.ctx, t.Path(), int64(t.W)*tlog.HashSize)
		if err != nil {
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, broken("tile %s: %d bytes, want %d", t.Path(), len(data), t.W*tlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}
