package catalog

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"pkgstore/internal/storage"
)

// Source says where a full load read the catalog from: "snapshot", or
// "index (snapshot WHY)" when it parsed the JSON index because the
// cursor's snapshot was missing or unusable; "" for catalogs built
// otherwise (deltas, merges, LoadHashed).
func (c *Catalog) Source() string { return c.source }

// loadSnapshot returns the catalog of cursor's snapshot, or nil and why
// it could not be used ("missing", "unusable: …"). The snapshot is
// decoded as it is read, so the transfer and the decoding overlap.
func loadSnapshot(ctx context.Context, b *storage.Bucket, cursor string) (*Catalog, string) {
	key := storage.IndexSnapshotKey(cursor)
	rd, err := b.NewReader(ctx, key)
	if storage.IsNotFound(err) {
		return nil, "missing"
	}
	if err != nil {
		return nil, fmt.Sprintf("unreadable: %v", err)
	}
	defer rd.Close()
	if rd.Size() > MaxSnapshotBody {
		return nil, fmt.Sprintf("unusable: %d bytes, over the bound of %d", rd.Size(), int64(MaxSnapshotBody))
	}
	// The snapshot is bound to the index file it was made from: the
	// cursor's files are written once, so the cursor and the file's size
	// name it (its SHA-256, also recorded, would need the file read).
	attrs, err := b.Attributes(ctx, storage.IndexAllKey(cursor))
	if err != nil {
		return nil, fmt.Sprintf("unusable: index file: %v", err)
	}
	c, err := DecodeSnapshot(rd, cursor, IndexIdentity{Size: attrs.Size})
	if err != nil {
		return nil, "unusable: " + err.Error()
	}
	c.source = "snapshot"
	return c, ""
}

// WriteSnapshot writes the snapshot of cursor's index unless it has one
// (create-if-absent: of writers racing, one wins and the others' work is
// dropped). The catalog is built from the JSON index itself, hashed as it
// is parsed, so the snapshot holds what a load of that file holds.
func WriteSnapshot(ctx context.Context, b *storage.Bucket, cursor string) error {
	key := storage.IndexSnapshotKey(cursor)
	if ok, err := b.Exists(ctx, key); err != nil {
		return fmt.Errorf("snapshot of %s: %w", cursor, err)
	} else if ok {
		return nil
	}
	c, idx, err := loadIdentified(ctx, b, cursor)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", cursor, err)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(EncodeSnapshot(pw, c, idx))
	}()
	err = b.CreateIfAbsent(ctx, key, pr, &storage.WriterOptions{ContentType: "application/octet-stream"})
	pr.CloseWithError(errors.New("snapshot write ended")) // stops the encoder if the write failed early
	<-done
	if errors.Is(err, storage.ErrExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("snapshot of %s: write %s: %w", cursor, key, err)
	}
	return nil
}

// loadIdentified is LoadIndex returning the index file's size and SHA-256.
func loadIdentified(ctx context.Context, b *storage.Bucket, cursor string) (*Catalog, IndexIdentity, error) {
	key := storage.IndexAllKey(cursor)
	rd, err := b.NewReader(ctx, key)
	if err != nil {
		return nil, IndexIdentity{}, fmt.Errorf("open %s: %w", key, err)
	}
	defer rd.Close()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(rd, h)}
	revs, err := parseParallel(ctx, cr)
	if err == nil {
		_, err = io.Copy(io.Discard, cr)
	}
	if err != nil {
		return nil, IndexIdentity{}, fmt.Errorf("load index %s: %w", cursor, err)
	}
	bld := NewBuilder(cursor, len(revs))
	for _, r := range revs {
		bld.Add(r)
	}
	c, err := bld.Finish()
	if err != nil {
		return nil, IndexIdentity{}, err
	}
	idx := IndexIdentity{Size: cr.n}
	h.Sum(idx.SHA256[:0])
	return c, idx, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
