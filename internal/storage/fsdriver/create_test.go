package fsdriver_test

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
	"testing"

	"pkgstore/internal/storage"
	"pkgstore/internal/storage/fsdriver"
)

// TestCreateIfAbsentAcrossProcesses runs racers in separate processes on one
// folder: fileblob's own IfNotExist would let several win.
func TestCreateIfAbsentAcrossProcesses(t *testing.T) {
	if os.Getenv("PKGSTORE_RACER_DIR") != "" {
		b, err := storage.OpenDir(os.Getenv("PKGSTORE_RACER_DIR"))
		if err != nil {
			os.Exit(3)
		}
		err = b.CreateIfAbsent(context.Background(), "k/obj.zip", bytes.NewReader([]byte(os.Getenv("PKGSTORE_RACER_ID"))), nil)
		switch {
		case err == nil:
			os.Exit(0)
		case errors.Is(err, storage.ErrExists):
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

func TestListAllHidesTempFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := storage.OpenDir(dir)
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

// TestStageNamedAndUnnamed runs staging both ways a file bucket may do it
// (an unnamed file linked through its descriptor where the kernel and
// /proc allow, a named temporary file elsewhere): Commit is
// create-if-absent, a staged object is invisible until then, durable
// creation works, and nothing is left in the reserved folder.
func TestStageNamedAndUnnamed(t *testing.T) {
	ctx := context.Background()
	for _, unnamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("unnamed=%v", unnamed), func(t *testing.T) {
			b, err := storage.OpenDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if works := fsdriver.ForceUnnamed(fsOf(b), unnamed); unnamed && !works {
				if runtime.GOOS == "linux" {
					t.Fatalf("O_TMPFILE staging does not work in %s", dirOf(b))
				}
				t.Skipf("no unnamed files on %s", runtime.GOOS)
			}
			key := "pkgstore/claims/a-1.0.0@000001"
			s, err := b.Stage(ctx, key, strings.NewReader("first"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if fsdriver.StagedUnnamed(s) != unnamed {
				t.Fatalf("staged unnamed=%v, want %v", !unnamed, unnamed)
			}
			if ok, _ := b.Exists(ctx, key); ok {
				t.Fatal("staged object visible before Commit")
			}
			if err := s.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b.CreateIfAbsent(ctx, key, strings.NewReader("second"), nil); !errors.Is(err, storage.ErrExists) {
				t.Fatalf("second create = %v, want storage.ErrExists", err)
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
			if fi, err := os.Stat(filepath.Join(dirOf(b), "pkgstore/claims", "a-1.0.0@000001")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("mode of the created object: %v, %v", fi.Mode(), err)
			}
			left, _ := os.ReadDir(filepath.Join(dirOf(b), fsdriver.TempDir))
			ents, _ := os.ReadDir(filepath.Join(dirOf(b), "pkgstore/claims"))
			if len(left) != 0 || len(ents) != 2 {
				t.Errorf("left in %s: %v; in claims: %v", fsdriver.TempDir, left, ents)
			}
		})
	}
}
