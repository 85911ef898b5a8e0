package archive

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/ziptest"
)

var want = packageid.ID{Name: "foo", Version: "1.0.0"}

func open(t *testing.T, data []byte, lim Limits) (*Package, error) {
	t.Helper()
	return Open(bytes.NewReader(data), int64(len(data)), want, lim)
}

func TestOpenValid(t *testing.T) {
	data := ziptest.Package(t, "foo", "1.0.0", ziptest.Entry{Name: "data_stream/logs/manifest.yml", Body: []byte("title: x\n")})
	p, err := open(t, data, DefaultLimits)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if p.ID != want || p.Root != "foo-1.0.0" {
		t.Fatalf("ID %v root %q", p.ID, p.Root)
	}
	var paths []string
	for _, f := range p.Files {
		paths = append(paths, f.Path)
	}
	wantPaths := "manifest.yml changelog.yml docs/README.md img/icon.svg img/[Logs] Screen shot.png data_stream/logs/manifest.yml"
	if got := strings.Join(paths, " "); got != wantPaths {
		t.Errorf("files = %s\nwant    %s", got, wantPaths)
	}
	b, err := fs.ReadFile(p.FS, "docs/README.md")
	if err != nil || !bytes.HasPrefix(b, []byte("# foo")) {
		t.Errorf("read README via FS: %q %v", b, err)
	}
	rc, err := p.Files[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Contains(body, []byte("name: foo")) {
		t.Errorf("manifest body %q", body)
	}
}

func TestOpenNoDirectoryEntries(t *testing.T) {
	var es []ziptest.Entry
	for _, e := range ziptest.PackageEntries("foo", "1.0.0") {
		if !strings.HasSuffix(e.Name, "/") {
			es = append(es, e)
		}
	}
	if _, err := open(t, ziptest.Build(t, es...), DefaultLimits); err != nil {
		t.Fatalf("zip without directory entries: %v", err)
	}
}

func TestOpenRefusals(t *testing.T) {
	pkg := func(extra ...ziptest.Entry) []ziptest.Entry { return ziptest.PackageEntries("foo", "1.0.0", extra...) }
	valid := ziptest.Package(t, "foo", "1.0.0")
	big := bytes.Repeat([]byte("a"), 3<<20)
	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		check   string
		message string
	}{
		{"not a zip", []byte("this is plain text, not a zip"), DefaultLimits, "zip", "not a readable zip"},
		{"truncated", valid[:len(valid)/2], DefaultLimits, "zip", "not a readable zip"},
		{"empty zip", ziptest.Build(t), DefaultLimits, "zip", "no entries"},
		{"two roots", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "other/x.txt", Body: []byte("x")})...), DefaultLimits, "root", "exactly one top-level folder"},
		{"file at root", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "stray.txt", Body: []byte("x")})...), DefaultLimits, "root", "top level of the zip"},
		{"wrong root", ziptest.Package(t, "foo", "1.0.1"), DefaultLimits, "root", `expected "foo-1.0.0"`},
		{"no manifest", ziptest.Build(t, ziptest.Entry{Name: "foo-1.0.0/docs/README.md", Body: []byte("x")}), DefaultLimits, "manifest", "no manifest.yml"},
		{"manifest name differs", ziptest.Build(t, ziptest.Entry{Name: "foo-1.0.0/manifest.yml", Body: ziptest.Manifest("bar", "1.0.0")}), DefaultLimits, "manifest", `declares name "bar"`},
		{"manifest version differs", ziptest.Build(t, ziptest.Entry{Name: "foo-1.0.0/manifest.yml", Body: ziptest.Manifest("foo", "2.0.0")}), DefaultLimits, "manifest", `version "2.0.0"`},
		{"dotdot", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "foo-1.0.0/../evil.txt", Body: []byte("x")})...), DefaultLimits, "path", "'..'"},
		{"absolute", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "/etc/passwd", Body: []byte("x")})...), DefaultLimits, "path", "absolute path"},
		{"backslash", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: `foo-1.0.0\..\x`, Body: []byte("x")})...), DefaultLimits, "path", "backslash"},
		{"symlink", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "foo-1.0.0/link", Body: []byte("/etc/passwd"), Mode: fs.ModeSymlink | 0o777})...), DefaultLimits, "path", "symbolic links"},
		{"duplicate", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "foo-1.0.0/docs/README.md", Body: []byte("again")})...), DefaultLimits, "path", "duplicate"},
		{"non utf8", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "foo-1.0.0/bad\xff.txt", Body: []byte("x")})...), DefaultLimits, "path", "not valid UTF-8"},
		{"per-file size", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "foo-1.0.0/big.bin", Body: big, Store: true})...), Limits{MaxTotalSize: 1 << 30, MaxFileSize: 1 << 20, MaxRatio: 200}, "size", "per-file limit"},
		{"total size", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "foo-1.0.0/big.bin", Body: big, Store: true})...), Limits{MaxTotalSize: 2 << 20, MaxFileSize: 1 << 30, MaxRatio: 200}, "size", "uncompressed total"},
		{"bomb ratio", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "foo-1.0.0/bomb.txt", Body: bytes.Repeat([]byte{0}, 8<<20)})...), DefaultLimits, "size", "compression ratio"},
		{"too many entries", valid, Limits{MaxEntries: 3}, "size", "entries"},
		{"file and folder", ziptest.Build(t, append(pkg(), ziptest.Entry{Name: "foo-1.0.0/docs/README.md/x", Body: []byte("x")})...), DefaultLimits, "path", "both a file and a folder"},
		{"bad checksum", corruptCRC(t, valid), DefaultLimits, "zip", "corrupt entry"},
		{"unsupported method", withMethod(t, valid, 99), DefaultLimits, "zip", "compression method 99"},
		{"malformed yaml", ziptest.Build(t, ziptest.Entry{Name: "foo-1.0.0/manifest.yml", Body: []byte("name: [unclosed\nversion: 1.0.0\n")}), DefaultLimits, "manifest", "malformed YAML"},
		{"yaml alias bomb", ziptest.Build(t, ziptest.Entry{Name: "foo-1.0.0/manifest.yml", Body: aliasBomb()}), DefaultLimits, "manifest", "malformed YAML"},
		{"manifest version not a string", ziptest.Build(t, ziptest.Entry{Name: "foo-1.0.0/manifest.yml", Body: []byte("name: foo\nversion: [1]\n")}), DefaultLimits, "manifest", "non-empty strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := open(t, tt.data, tt.lim)
			if err == nil {
				t.Fatal("Open accepted a bad zip")
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *archive.Error", err)
			}
			if ae.Check != tt.check || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %q (check %q), want check %q containing %q", err, ae.Check, tt.check, tt.message)
			}
			// Extracting while verifying refuses the same way, even when
			// the sink passes the read error on.
			_, err2 := OpenInto(bytes.NewReader(tt.data), int64(len(tt.data)), want, tt.lim, func(f *File, r io.Reader) error {
				_, err := io.Copy(io.Discard, r)
				return err
			})
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("OpenInto: %v\nOpen:     %v", err2, err)
			}
		})
	}
}

func TestOpenInto(t *testing.T) {
	extra := []ziptest.Entry{
		{Name: "data_stream/logs/manifest.yml", Body: []byte("title: x\n")},
		{Name: "img/shot.png", Body: bytes.Repeat([]byte{1, 2, 3}, 40_000), Store: true},
		{Name: "kibana/dashboard/d.json", Body: bytes.Repeat([]byte(`{"a":1}`), 20_000)},
	}
	data := ziptest.Package(t, "foo", "1.0.0", extra...)
	entries := map[string][]byte{}
	for _, e := range ziptest.PackageEntries("foo", "1.0.0", extra...) {
		if !strings.HasSuffix(e.Name, "/") {
			entries[strings.TrimPrefix(e.Name, "foo-1.0.0/")] = e.Body
		}
	}
	ra, size := bytes.NewReader(data), int64(len(data))

	t.Run("every file once, in zip order", func(t *testing.T) {
		var order []string
		got := map[string][]byte{}
		p, err := OpenInto(ra, size, want, DefaultLimits, func(f *File, r io.Reader) error {
			b, err := io.ReadAll(r)
			order = append(order, f.Path)
			got[f.Path] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(order, ",") != strings.Join(p.Paths(), ",") {
			t.Fatalf("sink saw %v, package files are %v", order, p.Paths())
		}
		if len(got) != len(entries) {
			t.Fatalf("sink saw %d files, the zip has %d", len(got), len(entries))
		}
		for path, body := range entries {
			if !bytes.Equal(got[path], body) {
				t.Errorf("%s: sink got %d bytes, want %d", path, len(got[path]), len(body))
			}
		}
	})
	t.Run("a failing sink is not a refusal", func(t *testing.T) {
		disk := errors.New("disk full")
		_, err := OpenInto(ra, size, want, DefaultLimits, func(f *File, r io.Reader) error { return disk })
		var ce *CopyError
		var ae *Error
		if !errors.As(err, &ce) || !errors.Is(err, disk) || errors.As(err, &ae) {
			t.Fatalf("error %v: want a *CopyError wrapping %v and no *Error", err, disk)
		}
	})
	t.Run("a sink reading part of a file still verifies all of it", func(t *testing.T) {
		calls := 0
		if _, err := OpenInto(ra, size, want, DefaultLimits, func(f *File, r io.Reader) error {
			calls++
			_, err := r.Read(make([]byte, 10))
			if err == io.EOF {
				err = nil
			}
			return err
		}); err != nil || calls != len(entries) {
			t.Fatalf("OpenInto = %v after %d calls, want nil after %d", err, calls, len(entries))
		}
		bad := corruptCRC(t, nil)
		_, err := OpenInto(bytes.NewReader(bad), int64(len(bad)), want, DefaultLimits, func(f *File, r io.Reader) error { return nil })
		var ae *Error
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), "corrupt entry") {
			t.Fatalf("corrupt entry the sink did not read: %v", err)
		}
	})
}

// corruptCRC flips a byte of a stored entry's data, so its checksum fails.
func corruptCRC(t *testing.T, _ []byte) []byte {
	data := ziptest.Build(t, ziptest.PackageEntries("foo", "1.0.0", ziptest.Entry{Name: "stored.txt", Body: []byte("STORED-CONTENT-XYZ"), Store: true})...)
	i := bytes.Index(data, []byte("STORED-CONTENT-XYZ"))
	if i < 0 {
		t.Fatal("stored content not found")
	}
	out := bytes.Clone(data)
	out[i] ^= 0xff
	return out
}

// withMethod rewrites the compression method of every entry in both the
// local and the central headers.
func withMethod(t *testing.T, data []byte, method uint16) []byte {
	out := bytes.Clone(data)
	for _, sig := range []struct {
		magic string
		off   int
	}{{"PK\x03\x04", 8}, {"PK\x01\x02", 10}} {
		for i := 0; ; {
			j := bytes.Index(out[i:], []byte(sig.magic))
			if j < 0 {
				break
			}
			i += j
			out[i+sig.off], out[i+sig.off+1] = byte(method), byte(method>>8)
			i += 4
		}
	}
	return out
}

// aliasBomb is the "billion laughs" YAML: a few hundred bytes that expand to
// billions of nodes if aliases are followed naively.
func aliasBomb() []byte {
	var b strings.Builder
	b.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b.WriteString(n + ": &" + n + " [")
		for i := 0; i < 9; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = n
	}
	b.WriteString("name: foo\nversion: 1.0.0\n")
	return []byte(b.String())
}

func FuzzOpen(f *testing.F) {
	f.Add(ziptest.Package(f, "foo", "1.0.0"))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Open(bytes.NewReader(data), int64(len(data)), want, DefaultLimits)
		if err != nil {
			return
		}
		for _, file := range p.Files {
			if strings.Contains(file.Path, "..") || strings.HasPrefix(file.Path, "/") {
				t.Fatalf("accepted unsafe path %q", file.Path)
			}
		}
	})
}
