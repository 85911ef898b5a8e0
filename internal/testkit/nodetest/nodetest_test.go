package nodetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestPinned checks that every package in package.json has an exact version,
// so CI installs the same programs on every machine.
func TestPinned(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(Root(), "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pj struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &pj); err != nil {
		t.Fatal(err)
	}
	if len(pj.Dependencies) == 0 {
		t.Fatal("package.json lists no dependencies")
	}
	for name, v := range pj.Dependencies {
		for _, c := range v {
			if (c < '0' || c > '9') && c != '.' {
				t.Errorf("%s: version %q is not exact", name, v)
				break
			}
		}
	}
}
