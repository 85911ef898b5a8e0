package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gocloud.dev/blob"
)

func TestCreateIfAbsentBackends(t *testing.T) {
	ctx := context.Background()
	dirB, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	memB, err := OpenURL(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	fileURL, err := OpenURL(ctx, "file://"+filepath.ToSlash(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*Bucket{"dir": dirB, "mem": memB, "fileurl": fileURL} {
		t.Run(name, func(t *testing.T) {
			defer b.Close()
			key := "artifacts/packages/foo-1.0.0.zip"
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					err := b.CreateIfAbsent(ctx, key, bytes.NewReader([]byte("writer "+strconv.Itoa(i))), nil)
					switch {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, ErrExists):
					default:
						t.Errorf("writer %d: %v", i, err)
					}
				}(i)
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d writers won, want exactly 1", wins.Load())
			}
			got, err := b.ReadAll(ctx, key)
			if err != nil || !bytes.HasPrefix(got, []byte("writer ")) {
				t.Fatalf("ReadAll = %q, %v", got, err)
			}
			// Listing must show the object once and no temporary files.
			it := b.List(nil)
			n := 0
			for {
				obj, err := it.Next(ctx)
				if err != nil {
					break
				}
				n++
				if obj.Key != key {
					t.Errorf("unexpected object %q", obj.Key)
				}
			}
			if n != 1 {
				t.Errorf("listed %d objects, want 1", n)
			}
		})
	}
}

// TestCreateIfAbsentAcrossProcesses runs racers in separate processes on one
// folder: fileblob's own IfNotExist would let several win.
func TestCreateIfAbsentAcrossProcesses(t *testing.T) {
	if os.Getenv("PKGSTORE_RACER_DIR") != "" {
		b, err := OpenDir(os.Getenv("PKGSTORE_RACER_DIR"))
		if err != nil {
			os.Exit(3)
		}
		err = b.CreateIfAbsent(context.Background(), "k/obj.zip", bytes.NewReader([]byte(os.Getenv("PKGSTORE_RACER_ID"))), nil)
		switch {
		case err == nil:
			os.Exit(0)
		case errors.Is(err, ErrExists):
			os.Exit(1)
		default:
			os.Exit(2)
		}
	}
	dir := t.TempDir()
	const n = 8
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestCreateIfAbsentAcrossProcesses$")
		cmds[i].Env = append(os.Environ(), "PKGSTORE_RACER_DIR="+dir, "PKGSTORE_RACER_ID="+strconv.Itoa(i))
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	wins := 0
	for i, c := range cmds {
		err := c.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		switch code {
		case 0:
			wins++
		case 1:
		default:
			t.Errorf("racer %d exited %d", i, code)
		}
	}
	if wins != 1 {
		t.Fatalf("%d processes won, want exactly 1", wins)
	}
}

func TestPlainKey(t *testing.T) {
	for key, want := range map[string]bool{
		"artifacts/packages/a-1.0.0.zip": true,
		"a/[x] y.jpg":                    true,
		"/abs":                           false,
		"a/../b":                         false,
		"a//b":                           false,
		"a/":                             false,
		"a\x01b":                         false,
	} {
		if got := plainKey(key); got != want {
			t.Errorf("plainKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestListAllHidesTempFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.WriteAll(ctx, "p/a.zip", []byte("a"), nil)
	b.WriteAll(ctx, "p/keep.tmp", []byte("a real object named .tmp"), nil)
	os.WriteFile(filepath.Join(dir, "p", "b.zip.17f0c0ffee123456.tmp"), []byte("x"), 0o644) // gocloud's
	b.WriteAll(ctx, "p/.notes.1.tmp", []byte("a real object"), nil)
	objs, err := b.ListAll(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	if got := strings.Join(keys, ","); got != "p/.notes.1.tmp,p/a.zip,p/keep.tmp" {
		t.Fatalf("ListAll = %s", got)
	}
}

// TestCreateIfAbsentEscapedNames checks that objects created with link(2)
// are where gocloud's file driver reads and lists them, also for names the
// driver escapes.
func TestCreateIfAbsentEscapedNames(t *testing.T) {
	ctx := context.Background()
	b, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, key := range []string{
		"artifacts/packages/a__0x41__b-1.0.0.zip",
		"artifacts/packages/x__0x__y-1.0.0.zip", // not an escape sequence: no hex
		"pkgstore/claims/__0x5f____0x7a__-1.0.0@000001",
		"artifacts/packages/plain_name-1.0.0.zip",
	} {
		if err := b.CreateIfAbsent(ctx, key, strings.NewReader(key), nil); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if ok, err := b.Exists(ctx, key); err != nil || !ok {
			t.Errorf("%s: Exists = %v, %v", key, ok, err)
		}
		if got, err := b.ReadAll(ctx, key); err != nil || string(got) != key {
			t.Errorf("%s: ReadAll = %q, %v", key, got, err)
		}
		if err := b.CreateIfAbsent(ctx, key, strings.NewReader("again"), nil); !errors.Is(err, ErrExists) {
			t.Errorf("%s: second create = %v, want ErrExists", key, err)
		}
		objs, err := b.ListAll(ctx, &blob.ListOptions{Prefix: key})
		if err != nil || len(objs) != 1 || objs[0].Key != key {
			t.Errorf("%s: listed as %v (%v)", key, objs, err)
		}
	}
}

// TestStageNamedAndUnnamed runs staging both ways a file bucket may do it
// (an unnamed file linked through its descriptor where the kernel and
// /proc allow, a named temporary file elsewhere): Commit is
// create-if-absent, a staged object is invisible until then, durable
// creation works, and nothing is left in the reserved folder.
func TestStageNamedAndUnnamed(t *testing.T) {
	ctx := context.Background()
	for _, unnamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("unnamed=%v", unnamed), func(t *testing.T) {
			b, err := OpenDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			b.unnamedOnce.Do(func() {})
			b.unnamed = unnamed
			if unnamed && !unnamedWorks(b.dir) {
				if runtime.GOOS == "linux" {
					t.Fatalf("O_TMPFILE staging does not work in %s", b.dir)
				}
				t.Skipf("no unnamed files on %s", runtime.GOOS)
			}
			key := "pkgstore/claims/a-1.0.0@000001"
			s, err := b.Stage(ctx, key, strings.NewReader("first"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.unnamed != unnamed {
				t.Fatalf("staged unnamed=%v, want %v", s.unnamed, unnamed)
			}
			if ok, _ := b.Exists(ctx, key); ok {
				t.Fatal("staged object visible before Commit")
			}
			if err := s.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b.CreateIfAbsent(ctx, key, strings.NewReader("second"), nil); !errors.Is(err, ErrExists) {
				t.Fatalf("second create = %v, want ErrExists", err)
			}
			if err := b.CreateIfAbsent(ctx, "pkgstore/claims/b-1.0.0@000001", strings.NewReader("durable"), nil); err != nil {
				t.Fatal(err)
			}
			d, err := b.Stage(ctx, "pkgstore/claims/c-1.0.0@000001", strings.NewReader("dropped"), nil)
			if err != nil {
				t.Fatal(err)
			}
			d.Discard()
			for k, want := range map[string]string{key: "first", "pkgstore/claims/b-1.0.0@000001": "durable"} {
				if got, err := b.ReadAll(ctx, k); err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", k, got, err, want)
				}
			}
			if ok, _ := b.Exists(ctx, "pkgstore/claims/c-1.0.0@000001"); ok {
				t.Error("discarded object visible")
			}
			if fi, err := os.Stat(filepath.Join(b.dir, "pkgstore/claims", "a-1.0.0@000001")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("mode of the created object: %v, %v", fi.Mode(), err)
			}
			left, _ := os.ReadDir(filepath.Join(b.dir, tempDir))
			ents, _ := os.ReadDir(filepath.Join(b.dir, "pkgstore/claims"))
			if len(left) != 0 || len(ents) != 2 {
				t.Errorf("left in %s: %v; in claims: %v", tempDir, left, ents)
			}
		})
	}
}
