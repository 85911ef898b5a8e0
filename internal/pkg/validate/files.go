package validate

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxReadSize caps how much of any single file is read into memory.
const maxReadSize = 150 * mb

// fileData is the cached content of one logical file (links resolved).
type fileData struct {
	data   []byte
	err    error // read failure reported as a problem (not an I/O error)
	linked bool
	parsed bool
	value  any // decoded without dotted-key expansion
	node   *yaml.Node
	perr   error
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// ioFailure records a real I/O failure (not a missing file); it aborts the run.
func (p *pkg) ioFailure(op, name string, err error) {
	if p.ioErr == nil {
		p.ioErr = fmt.Errorf("validate: %s %s: %w", op, name, err)
	}
}

// exists reports whether the logical file rel exists (directly or as rel.link
// outside build mode).
func (p *pkg) exists(rel string) bool {
	if _, err := fs.Stat(p.fsys, rel); err == nil {
		return true
	}
	if p.mode != ModeBuild {
		if _, err := fs.Stat(p.fsys, rel+".link"); err == nil {
			return true
		}
	}
	return false
}

// read returns the content of the logical file rel, resolving rel.link when
// rel itself is absent. A missing file yields (nil, fs.ErrNotExist).
func (p *pkg) read(rel string) (*fileData, error) {
	rel = path.Clean(rel)
	if fd, ok := p.cache[rel]; ok {
		return fd, nil
	}
	data, err := readLimited(p.fsys, rel)
	fd := &fileData{}
	switch {
	case err == nil:
		fd.data = data
	case isNotExist(err) || isPathErr(err):
		if p.mode == ModeBuild {
			return nil, fs.ErrNotExist
		}
		if _, serr := fs.Stat(p.fsys, rel+".link"); serr != nil {
			return nil, fs.ErrNotExist
		}
		fd.linked = true
		fd.data, fd.err = p.resolveLink(rel + ".link")
		if fd.err != nil && p.ioErr != nil {
			return nil, p.ioErr
		}
	default:
		p.ioFailure("read", rel, err)
		return nil, p.ioErr
	}
	p.cache[rel] = fd
	return fd, nil
}

func isPathErr(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && errors.Is(pe.Err, fs.ErrInvalid)
}

func readLimited(fsys fs.FS, rel string) ([]byte, error) {
	f, err := fsys.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f)
}

// resolveLink reads a *.link file ("<relative target> <sha256>") and returns
// the target's content after checking its checksum.
func (p *pkg) resolveLink(linkRel string) ([]byte, error) {
	raw, err := readLimited(p.fsys, linkRel)
	if err != nil {
		if !isNotExist(err) {
			p.ioFailure("read", linkRel, err)
		}
		return nil, err
	}
	line, _, _ := bufio.NewReader(bytes.NewReader(raw)).ReadLine()
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return nil, fmt.Errorf("link file %s is empty", linkRel)
	}
	target := fields[0]
	joined := path.Join(path.Dir(linkRel), target)
	var data []byte
	if fs.ValidPath(joined) && !strings.HasPrefix(joined, "../") {
		data, err = readLimited(p.fsys, joined)
	} else if p.opts.Dir != "" {
		osPath := filepath.Join(p.opts.Dir, filepath.FromSlash(path.Dir(linkRel)), filepath.FromSlash(target))
		data, err = readOSLimited(osPath)
	} else {
		err = fmt.Errorf("target %s is outside the package", target)
	}
	if err != nil {
		return nil, fmt.Errorf("linked file %s: target %s cannot be read: %v", path.Base(linkRel), target, errText(err))
	}
	if len(fields) > 1 {
		sum := sha256.Sum256(data)
		if !strings.EqualFold(hex.EncodeToString(sum[:]), fields[1]) {
			return nil, fmt.Errorf("linked file %s is not up to date", path.Base(linkRel))
		}
	}
	return data, nil
}

func errText(err error) string {
	if isNotExist(err) {
		return "file does not exist"
	}
	return err.Error()
}

// readAllLimited reads r whole, refusing more than maxReadSize bytes.
func readAllLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxReadSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxReadSize {
		return nil, fmt.Errorf("file larger than %s", humanSize(maxReadSize))
	}
	return data, nil
}

func readOSLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f)
}

// parsed returns the file decoded as YAML or JSON (by extension) without
// dotted-key expansion; the result is cached.
func (p *pkg) parsed(rel string) (any, *fileData, error) {
	fd, err := p.read(rel)
	if err != nil {
		return nil, nil, err
	}
	if fd.err != nil {
		return nil, fd, fd.err
	}
	if !fd.parsed {
		fd.parsed = true
		if strings.HasSuffix(rel, ".json") {
			fd.value, fd.perr = decodeJSON(fd.data)
		} else {
			fd.value, fd.node, fd.perr = decodeYAML(fd.data, false)
		}
	}
	return fd.value, fd, fd.perr
}

// listDir returns the logical entries of dir (".link" suffixes stripped
// outside build mode) or nil when dir does not exist.
func (p *pkg) listDir(dir string) []fs.DirEntry {
	ents, err := fs.ReadDir(p.fsys, dir)
	if err != nil {
		return nil
	}
	return ents
}

// logicalFiles returns the logical names of the files in dir, sorted.
func (p *pkg) logicalFiles(dir string) []string {
	var out []string
	for _, e := range p.listDir(dir) {
		if e.IsDir() {
			continue
		}
		n := e.Name()
		if strings.HasSuffix(n, ".link") && p.mode != ModeBuild {
			n = strings.TrimSuffix(n, ".link")
		}
		out = append(out, n)
	}
	return out
}

func (p *pkg) subdirs(dir string) []string {
	var out []string
	for _, e := range p.listDir(dir) {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

func humanSize(n int64) string {
	switch {
	case n >= mb && n%mb == 0:
		return fmt.Sprintf("%dMB", n/mb)
	case n >= mb:
		return fmt.Sprintf("%.2fMB", float64(n)/float64(mb))
	case n >= kb && n%kb == 0:
		return fmt.Sprintf("%dKB", n/kb)
	case n >= kb:
		return fmt.Sprintf("%.2fKB", float64(n)/float64(kb))
	}
	return fmt.Sprintf("%dB", n)
}

func (p *pkg) dirStat(rel string) (fs.FileInfo, error) {
	fi, err := fs.Stat(p.fsys, rel)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fs.ErrNotExist
	}
	return fi, nil
}
