package tokens

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRevoke(t *testing.T) {
	a, _ := New("a", "secret-a-0123456789", []Scope{ScopePublish}, []string{"aws*"}, nil)
	b, _ := New("b", "secret-b-0123456789", []Scope{ScopeAudit}, nil, nil)
	ya, _ := a.YAML()
	yb, _ := b.YAML()
	file := "# who may publish\ntokens:\n" + ya + "  # the auditors\n" + yb

	out, err := Revoke([]byte(file), "a")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Parse(out)
	if err != nil || set.Len() != 1 || set.Entries()[0].Name != "b" {
		t.Fatalf("after revoking a (%v):\n%s", err, out)
	}
	if !strings.Contains(string(out), "# who may publish") || !strings.Contains(string(out), "# the auditors") {
		t.Errorf("comments lost:\n%s", out)
	}
	if _, err := Revoke([]byte(file), "c"); !errors.Is(err, ErrNoSuchToken) {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := Revoke([]byte("tokens:\n  - name: x\n"), "x"); err == nil {
		t.Error("a file that does not parse was edited")
	}
	last, err := Revoke(out, "b")
	if err != nil || !strings.Contains(string(last), "tokens: []") {
		t.Errorf("revoking the last: %v\n%s", err, last)
	}
}

func TestWriteFileAtomicKeepsMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.yml")
	if err := os.WriteFile(p, []byte("tokens: []\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("tokens: []\n# new\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	data, _ := os.ReadFile(p)
	if err != nil || fi.Mode().Perm() != 0o640 || !strings.Contains(string(data), "# new") {
		t.Fatalf("mode %v, %v, %q", fi.Mode().Perm(), err, data)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".tokens.yml.*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
