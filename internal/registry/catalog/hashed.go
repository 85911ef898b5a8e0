package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"pkgstore/internal/storage"
)

// ErrHashMismatch is the error of LoadHashed when the file read is not the
// one expected.
var ErrHashMismatch = fmt.Errorf("index file does not match its expected sha256")

// LoadHashed is Load of a search-index-all.json whose SHA-256 must be
// wantSHA256: the bytes parsed are the bytes hashed, in one read, so a
// file swapped after it was checked is never served.
func LoadHashed(ctx context.Context, b *storage.Bucket, cursor, wantSHA256 string) (*Catalog, error) {
	key := storage.IndexAllKey(cursor)
	rd, err := b.NewReader(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("load index %s: open %s: %w", cursor, key, err)
	}
	defer rd.Close()
	h := sha256.New()
	tee := io.TeeReader(rd, h)
	revs, err := parseParallel(ctx, tee)
	// What follows the document (or what a parse error left) is hashed
	// too: a tampered file is reported as such, not as unparsable.
	_, derr := io.Copy(io.Discard, tee)
	if got := hex.EncodeToString(h.Sum(nil)); derr == nil && got != wantSHA256 {
		err = fmt.Errorf("%w: %s has %s, want %s", ErrHashMismatch, key, got, wantSHA256)
	} else if err == nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("load index %s: %w", cursor, err)
	}
	bld := NewBuilder(cursor, len(revs))
	for _, r := range revs {
		bld.Add(r)
	}
	c, err := bld.Finish()
	if err != nil {
		return nil, err
	}
	// Never a snapshot: no signed statement covers one, so a replica
	// checking statements parses the very bytes it hashed.
	c.source = SourceVerified
	return c, nil
}

// SourceVerified is the Source of a catalog loaded by LoadHashed.
const SourceVerified = "index (hashed against the signed statement; snapshots are not used)"
