package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
)

// ListLevel returns the keys of the objects directly under prefix (which
// ends in "/") and the sub-prefixes one level down (ending in "/"): a
// listing with the "/" delimiter. On file buckets it reads the one folder
// instead of having gocloud walk the whole tree, which makes listing a
// folder of a large tree cost what the folder holds.
func (b *Bucket) ListLevel(ctx context.Context, prefix string) (keys, dirs []string, err error) {
	if b.dir != "" && strings.HasSuffix(prefix, "/") && plainKey(strings.TrimSuffix(prefix, "/")) && !strings.Contains(prefix, "__0x") {
		keys, dirs, ok, err := b.readLevel(prefix)
		if ok {
			return keys, dirs, err
		}
	}
	objs, err := b.ListAll(ctx, &blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	if err != nil {
		return nil, nil, err
	}
	for _, o := range objs {
		if o.IsDir {
			dirs = append(dirs, o.Key)
		} else {
			keys = append(keys, o.Key)
		}
	}
	return keys, dirs, nil
}

// readLevel reads a file bucket's folder; ok is false when a name would
// need gocloud's key unescaping (the caller then lists through gocloud).
func (b *Bucket) readLevel(prefix string) (keys, dirs []string, ok bool, err error) {
	ents, err := os.ReadDir(filepath.Join(b.dir, filepath.FromSlash(strings.TrimSuffix(prefix, "/"))))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, true, nil
	}
	if err != nil {
		return nil, nil, true, err
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.Contains(name, "__0x"):
			return nil, nil, false, nil
		case e.IsDir():
			dirs = append(dirs, prefix+name+"/")
		case tempName.MatchString(name), strings.HasSuffix(name, ".attrs"):
			// a writer's temporary file, or a metadata sidecar
		default:
			keys = append(keys, prefix+name)
		}
	}
	return keys, dirs, true, nil
}
