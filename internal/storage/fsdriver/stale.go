package fsdriver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"pkgstore/internal/storage/driver"
)

var _ driver.TempRemover = (*Bucket)(nil)

// maxStaleVisits bounds the entries one RemoveStaleTemp call looks at, so
// that a clean-up over a huge folder costs a bounded time; the rest waits
// for the next call.
const maxStaleVisits = 100_000

// RemoveStaleTemp implements driver.TempRemover. A write in progress keeps
// its temporary file's modification time fresh, so a cutoff well past any
// write's pause (an hour) only takes files whose writer is gone. The
// folders emptied are removed from the deepest up to, not including, the
// prefix's own folder: a folder holding no stale file is left alone, since
// a writer may be creating its first file in it right now.
func (b *Bucket) RemoveStaleTemp(ctx context.Context, prefix string, cutoff time.Time, max int) ([]string, error) {
	dirKey, ok := strings.CutSuffix(prefix, "/")
	if !ok {
		return nil, fmt.Errorf("remove stale temporary files under %q: the prefix must end with '/'", prefix)
	}
	rel, err := relPath(dirKey)
	if err != nil {
		return nil, fmt.Errorf("remove stale temporary files under %q: %w", prefix, err)
	}
	top := b.root + filepath.FromSlash(rel)
	var removed []string
	emptied := map[string]bool{}
	visits := 0
	errStop := errors.New("stop")
	err = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // vanished meanwhile (another clean-up, a dequeue)
			}
			return err
		}
		if visits++; visits > maxStaleVisits || len(removed) >= max {
			return errStop
		}
		if visits%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if d.IsDir() || !tempName.MatchString(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		r, _ := filepath.Rel(b.dir, p)
		removed = append(removed, filepath.ToSlash(r))
		emptied[filepath.Dir(p)] = true
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil // no such folder: nothing to clean
	}
	if errors.Is(err, errStop) {
		err = nil
	}
	for dir := range emptied {
		for d := dir; d != top && strings.HasPrefix(d, top+string(filepath.Separator)); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break // not empty: it holds objects, or a writer's new file
			}
		}
	}
	if err != nil {
		return removed, fmt.Errorf("remove stale temporary files under %s: %w", prefix, err)
	}
	return removed, nil
}
