// Package ziptest builds real zips, well-formed or deliberately broken, for
// tests.
package ziptest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"
)

// Entry is one zip entry. A name ending in "/" is a directory.
type Entry struct {
	Name   string
	Body   []byte
	Mode   fs.FileMode // 0 means 0644 (files) or 0755|ModeDir (dirs)
	Method uint16      // zip.Deflate unless set to zip.Store explicitly via Store
	Store  bool
}

// Build writes entries, in order, into a zip.
func Build(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
		if e.Store || (len(e.Name) > 0 && e.Name[len(e.Name)-1] == '/') {
			h.Method = zip.Store
		}
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
			if len(e.Name) > 0 && e.Name[len(e.Name)-1] == '/' {
				mode = 0o755 | fs.ModeDir
			}
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatalf("zip entry %q: %v", e.Name, err)
		}
		if _, err := w.Write(e.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Manifest returns a small valid integration manifest.
func Manifest(name, version string) []byte {
	return fmt.Appendf(nil, `format_version: 3.0.0
name: %s
title: %s test package
version: %s
description: A package built by the tests.
type: integration
categories:
  - custom
conditions:
  kibana:
    version: "^8.0.0"
  elastic:
    subscription: basic
owner:
  github: elastic/integrations
  type: elastic
icons:
  - src: /img/icon.svg
    title: icon
    size: 32x32
    type: image/svg+xml
`, name, name, version)
}

// PackageEntries returns the entries of a small valid package NAME-VERSION,
// plus extra entries under its root.
func PackageEntries(name, version string, extra ...Entry) []Entry {
	root := name + "-" + version + "/"
	es := []Entry{
		{Name: root},
		{Name: root + "manifest.yml", Body: Manifest(name, version)},
		{Name: root + "changelog.yml", Body: fmt.Appendf(nil, "- version: %q\n  changes:\n    - description: First release.\n      type: enhancement\n      link: https://github.com/elastic/integrations/pull/1\n", version)},
		{Name: root + "docs/README.md", Body: []byte("# " + name + "\n\nA test package with <b>HTML</b> & ampersands.\n")},
		{Name: root + "img/icon.svg", Body: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"/>`)},
		{Name: root + "img/[Logs] Screen shot.png", Body: bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 64), Store: true},
	}
	for _, e := range extra {
		e.Name = root + e.Name
		es = append(es, e)
	}
	return es
}

// Package builds a small valid package zip.
func Package(t testing.TB, name, version string, extra ...Entry) []byte {
	t.Helper()
	return Build(t, PackageEntries(name, version, extra...)...)
}

// SortedPackage builds a small valid package zip with its entries sorted by
// name (the reference EPR takes assets in zip order) and its manifest
// passed through edit (nil: unchanged).
func SortedPackage(t testing.TB, name, version string, edit func(manifest string) string) []byte {
	t.Helper()
	es := PackageEntries(name, version)
	for i, e := range es {
		if edit != nil && strings.HasSuffix(e.Name, "/manifest.yml") {
			es[i].Body = []byte(edit(string(e.Body)))
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	return Build(t, es...)
}
