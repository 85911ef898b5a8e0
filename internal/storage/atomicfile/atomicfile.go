// Package atomicfile replaces files atomically: the content goes to a
// temporary file in the same folder, renamed over the target only when
// whole, so a reader sees the old file or the new one, never a part.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write replaces path (mode 0644) with what fill writes. On any error,
// fill's included, path is left as it was and the temporary file removed.
func Write(path string, fill func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	err = fill(tmp)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}
