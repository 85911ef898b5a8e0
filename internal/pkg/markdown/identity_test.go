package markdown

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer/html"

	"pkgstore/internal/testkit/sharedtest"
)

// plainGoldmark is the renderer as it was before the guard: the same
// options, no wrapped parsers.
var plainGoldmark = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithAutoHeadingID()),
	goldmark.WithRendererOptions(html.WithUnsafe()),
)

// unguarded renders src as before budgets: goldmark, sanitiser, rewrite.
func unguarded(t *testing.T, src []byte, docPath string, own Files) string {
	var raw bytes.Buffer
	if err := plainGoldmark.Convert(src, &raw); err != nil {
		t.Fatal(err)
	}
	clean := sanitizer().SanitizeReader(&raw)
	var out bytes.Buffer
	rewrite(&out, clean, path.Dir(docPath), own, nil)
	return out.String()
}

// TestGuardKeepsOutput: the guarded renderer writes exactly what goldmark
// alone did for ordinary READMEs: the test cases here and, when
// ../shared is there, every README of the v1 sample.
func TestGuardKeepsOutput(t *testing.T) {
	srcs := map[string][]byte{
		"gfm": []byte("# T\n\n| a | b |\n|---|:-:|\n| 1 | *2* |\n\n- [x] done\n- [ ] ~~not~~\n\nhttps://www.elastic.co/ and <details><summary>s</summary>x</details>\n\n```yaml\na: 1\n```\n\n> quote\n> - list\n\n1. one\n2. two\n\n![i](../img/ok.png) [l](../changelog.yml#x)\n"),
	}
	if dir := sharedtest.Locate(); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "testdata", sharedtest.V1Sample)); err == nil {
			root := filepath.Join(sharedtest.UnpackV1(t), "packages")
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasSuffix(p, "/docs/README.md") {
					data, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					srcs[p] = data
				}
				return nil
			})
		}
	}
	b := Budget{CPU: time.Minute, Output: DefaultBudget.Output}
	for name, src := range srcs {
		got, err := Render(context.Background(), src, "docs/README.md", own, b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Plain != "" {
			t.Errorf("%s: shown as text: %s", name, got.Reason)
			continue
		}
		if want := unguarded(t, src, "docs/README.md", own); got.HTML != want {
			t.Errorf("%s: output differs from goldmark's alone", name)
		}
	}
	t.Logf("%d READMEs compared", len(srcs))
}
