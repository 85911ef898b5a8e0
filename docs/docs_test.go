// Package docs holds the project's documentation; its test checks what a
// reader of the documentation relies on: links that lead somewhere, and no
// path a user does not have.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// developerDocs explain how figures and differential results were produced
// on a developer's machine, where Elastic's reference programs sit beside the
// repository; they may name those paths. Every other page is for users.
var developerDocs = map[string]bool{
	"eprdiff.md":    true,
	"benchmarks.md": true,
}

// outsidePath matches paths that only exist on a developer's machine.
var outsidePath = regexp.MustCompile(`\.\./shared|/work/`)

// codeSpan and codeFence match Markdown code, whose brackets are not links.
var (
	codeFence = regexp.MustCompile("(?ms)^```.*?^```")
	codeSpan  = regexp.MustCompile("`[^`\n]*`")
)

// mdLink matches the target of a Markdown link or image: ](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

func pages(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "README.md"))
	out := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(raw)
	}
	if len(out) < 2 {
		t.Fatalf("found %d pages; run from the docs folder", len(out))
	}
	return out
}

// TestNoPathOutsideRepository: a user reading the docs has the repository,
// nothing beside it.
func TestNoPathOutsideRepository(t *testing.T) {
	for f, text := range pages(t) {
		if developerDocs[filepath.Base(f)] {
			continue
		}
		for i, line := range strings.Split(text, "\n") {
			if m := outsidePath.FindString(line); m != "" {
				t.Errorf("%s:%d names %q, a path outside the repository: %s", f, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}

// TestRelativeLinksResolve: every relative link in the README and the docs
// leads to a file of the repository.
func TestRelativeLinksResolve(t *testing.T) {
	for f, text := range pages(t) {
		prose := codeSpan.ReplaceAllString(codeFence.ReplaceAllString(text, ""), "")
		for _, m := range mdLink.FindAllStringSubmatch(prose, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			p := filepath.Join(filepath.Dir(f), filepath.FromSlash(target))
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s links to %s, which does not exist (%v)", f, m[1], err)
			}
		}
	}
}
