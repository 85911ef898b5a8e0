package validate

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func validateDir(t testing.TB, dir string, opts Options) []Problem {
	t.Helper()
	opts.Dir = dir
	probs, err := Package(context.Background(), os.DirFS(dir), opts)
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", dir, err)
	}
	return probs
}

func TestSpecFixturesValid(t *testing.T) {
	root := filepath.Join(extractShared(t, "spec-fixtures.tar.gz"), "valid")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, e := range ents {
		probs := validateDir(t, filepath.Join(root, e.Name()), Options{})
		if len(probs) == 0 {
			ok++
			continue
		}
		var lines []string
		for _, p := range probs {
			lines = append(lines, "  "+p.String())
		}
		t.Errorf("valid/%s: %d problems:\n%s", e.Name(), len(probs), strings.Join(lines, "\n"))
	}
	t.Logf("valid fixtures accepted: %d/%d", ok, len(ents))
}

func TestSpecFixturesInvalid(t *testing.T) {
	root := filepath.Join(extractShared(t, "spec-fixtures.tar.gz"), "invalid")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for _, e := range ents {
		name := e.Name()
		opts := Options{}
		if warningFixtures[name] {
			opts.WarningsAsErrors = true
		}
		probs := validateDir(t, filepath.Join(root, name), opts)
		var lines []string
		for _, p := range probs {
			lines = append(lines, p.String())
		}
		all := strings.Join(lines, "\n")
		exp, known := expectedInvalid[name]
		switch {
		case len(probs) == 0:
			t.Errorf("invalid/%s: accepted", name)
		case !known:
			t.Errorf("invalid/%s: no expectation in the table; got:\n  %s", name, strings.Join(lines, "\n  "))
		default:
			miss := false
			for _, re := range exp {
				if !regexp.MustCompile(re).MatchString(all) {
					t.Errorf("invalid/%s: no problem matches %q; got:\n  %s", name, re, strings.Join(lines, "\n  "))
					miss = true
				}
			}
			if !miss {
				right++
			}
		}
	}
	t.Logf("invalid fixtures refused for the right reason: %d/%d", right, len(ents))
}

// warningFixtures are validated with WarningsAsErrors, as package-spec does.
var warningFixtures = map[string]bool{
	"visualizations_by_reference": true,
}

// expectedInvalid maps each invalid fixture to regexps that must all match
// the reported problems (package-spec-rules.md §7, matched on meaning).
var expectedInvalid = map[string][]string{}
