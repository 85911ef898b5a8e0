package logcheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"

	"pkgstore/internal/govern/translog"
)

// MaxMonitorRecords bounds the records one monitor run reads (every
// record, each run): 16 million, some 3 GB of data tiles.
const MaxMonitorRecords = 1 << 24

// headFile is the monitor's state: the last signed tree head it checked.
const headFile = "head"

// Report is what one monitor run saw.
type Report struct {
	// Old is the head the state held (size 0 on the first run), New the
	// store's latest.
	Old, New tlog.Tree
	// Records is how many records were read and proved; Publications how
	// many of them are publications.
	Records, Publications int64
}

// Monitor checks the store's latest signed tree head against the last one
// seen (kept in stateDir): the new tree must extend the old one (a
// consistency proof; two heads of one size must be equal). It then reads
// every record of the new tree from the data tiles, proves each against
// the tree, and checks that no revision was published twice with other
// bytes and that every yank names the bytes of its publication. Only when
// everything holds is the new head saved as the last seen. The first
// error is the first break found.
func (c *Checker) Monitor(ctx context.Context, stateDir string) (*Report, error) {
	rep := &Report{}
	var old *tlog.Tree
	data, err := os.ReadFile(filepath.Join(stateDir, headFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read monitor state: %w", err)
	default:
		t, err := c.OpenHead(data)
		if err != nil {
			return nil, fmt.Errorf("the head saved in %s: %w", stateDir, err)
		}
		old, rep.Old = &t, t
	}
	tree, signed, err := c.Latest(ctx)
	if err != nil {
		return nil, err
	}
	rep.New = tree
	// The store says how many records there are: bound what it makes us read.
	if tree.N > MaxMonitorRecords {
		return rep, fmt.Errorf("the store's tree has %d records, more than this monitor reads (%d)", tree.N, MaxMonitorRecords)
	}
	if old != nil {
		if err := c.CheckConsistency(ctx, *old, tree); err != nil {
			return rep, err
		}
	}
	published := map[string]string{} // publish key -> sha256
	err = c.Records(ctx, tree, 0, tree.N, func(n int64, text []byte) error {
		rep.Records++
		e, err := translog.ParseEntry(text)
		if err != nil {
			return broken("record %d: %v", n, err)
		}
		key := translog.PublishKey(e.ID())
		prev, seen := published[key]
		switch {
		case e.Event == translog.EventPublish && seen && prev != e.SHA256:
			return broken("record %d publishes %s again with sha256 %s, after sha256 %s", n, e.ID(), e.SHA256, prev)
		case e.Event == translog.EventPublish:
			published[key] = e.SHA256
			rep.Publications++
		case !seen:
			return broken("record %d: %s of %s, which the log never published", n, e.Event, e.ID())
		case prev != e.SHA256:
			return broken("record %d: %s of %s names sha256 %s, its publication %s", n, e.Event, e.ID(), e.SHA256, prev)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if old == nil || tree.N > old.N {
		if err := writeState(stateDir, signed); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func writeState(dir string, signed []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("monitor state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".head-*")
	if err != nil {
		return fmt.Errorf("monitor state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(signed); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, headFile))
	}
	if err != nil {
		return fmt.Errorf("monitor state: %w", err)
	}
	return nil
}
