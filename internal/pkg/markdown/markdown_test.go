package markdown

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/testkit/htmltest"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// renderT renders src as the README docs/README.md of the package own.
func renderT(t testing.TB, src string, b Budget) Result {
	t.Helper()
	r, err := Render(context.Background(), []byte(src), "docs/README.md", own, b)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

var own = NewFiles("/package/p/1.0.0/", []string{"/package/p/1.0.0/img/ok.png", "/package/p/1.0.0/docs/README.md", "/package/p/1.0.0/img/a b.png"})

// unsafeRe matches what must never reach a page from package text, in
// the raw output (text included: the hostile inputs put it nowhere else).
var unsafeRe = regexp.MustCompile(`(?i)<script|<iframe|<object|<embed|<form|<svg|<style|\son[a-z]+\s*=|javascript:|data:|vbscript:|style=`)

func TestRenderMarkdownHostile(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      []string // substrings of the output
		dropped   int
	}{
		{"script", "<script>alert(1)</script>\n\nafter", []string{"after"}, 0},
		{"onerror", `<img src="../img/ok.png" onerror="alert(1)">`, []string{`src="/package/p/1.0.0/img/ok.png"`}, 0},
		{"javascript link", "[x](javascript:alert(1))", []string{"<p>x</p>"}, 0},
		{"javascript mixed case", `<a href="JaVaScRiPt:alert(1)">y</a>`, []string{"y"}, 0},
		{"entity-encoded scheme", `<a href="&#106;avascript:alert(1)">z</a>`, []string{"z"}, 0},
		{"data link", `<a href="data:text/html,hi">d</a>`, []string{"d"}, 0},
		{"data image", "![i](data:image/png;base64,AAAA)", []string{"i"}, 1},
		{"remote image", "![r](https://evil.example/x.png)", []string{"r"}, 1},
		{"other package image", "![o](/package/q/1.0.0/img/ok.png)", []string{"o"}, 1},
		{"missing file", "![m](../img/missing.png)", []string{"m"}, 1},
		{"escape root", "![e](../../../../etc/passwd)", []string{"e"}, 1},
		{"own relative", "![ok](../img/ok.png)", []string{`<img src="/package/p/1.0.0/img/ok.png" alt="ok" loading="lazy">`}, 0},
		{"own from root", "![ok](/img/ok.png)", []string{`src="/package/p/1.0.0/img/ok.png"`}, 0},
		{"own escaped", "![sp](<../img/a b.png>)", []string{`src="/package/p/1.0.0/img/a%20b.png"`}, 0},
		{"svg inline", `<svg onload="alert(1)"><circle/></svg>text`, []string{"text"}, 0},
		{"style", `<div style="background:url(javascript:x)">s</div>`, []string{"<div>s</div>"}, 0},
		{"gfm table", "| a | b |\n|---|---|\n| 1 | 2 |", []string{"<table>", "<td>1</td>"}, 0},
		{"external link", "[e](https://www.elastic.co/)", []string{`href="https://www.elastic.co/"`, "nofollow"}, 0},
		{"relative link", "[f](../changelog.yml)", []string{`href="/package/p/1.0.0/changelog.yml"`}, 0},
		{"fragment", "[h](#setup)", []string{`href="#setup"`}, 0},
		{"link to own svg", "[s](../img/ok.svg)", []string{"<p><a rel="}, 0},
		{"link to own html", "[h](../docs/page.html)", []string{"<p><a rel="}, 0},
		{"link with own svg image", "[![i](../img/ok.png)](../img/x.svg)", []string{`<a rel="nofollow noreferrer"><img src="/package/p/1.0.0/img/ok.png"`}, 0},
		{"scheme-relative", "[s](//evil.example/x)", []string{"<a rel="}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := renderT(t, c.src, DefaultBudget)
			out := r.HTML
			if m := unsafeRe.FindString(out); m != "" {
				t.Errorf("output holds %q:\n%s", m, out)
			}
			if m := htmltest.UnsafeMarkup(out); m != "" {
				t.Errorf("output holds %s:\n%s", m, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if r.Dropped != c.dropped {
				t.Errorf("dropped %d images, want %d", r.Dropped, c.dropped)
			}
			if strings.Contains(out, "evil.example") {
				t.Errorf("a link or image still points at another host:\n%s", out)
			}
		})
	}
}

// depth returns the deepest element nesting of h.
func depth(h string) int {
	z := xhtml.NewTokenizer(strings.NewReader(h))
	d, max := 0, 0
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return max
		case xhtml.StartTagToken:
			if n, _ := z.TagName(); !IsVoid(atom.Lookup(n)) {
				d++
				if d > max {
					max = d
				}
			}
		case xhtml.EndTagToken:
			d--
		}
	}
}

func TestRenderMarkdownBounded(t *testing.T) {
	lists := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(strings.Repeat("  ", i%60) + "- item\n")
		}
		return b.String()
	}
	for _, c := range []struct {
		name     string
		src      string
		plain    bool // shown as text
		tooLarge bool
	}{
		{"deep quotes one line", strings.Repeat(">", 100000), true, false},
		{"deep quotes moderate", strings.Repeat("> ", 30) + "x\n", false, false},
		{"deep html", strings.Repeat("<div>", 50000) + "x", false, false},
		{"deep lists", lists(3000), false, false},
		{"link bomb", strings.Repeat("[a](", 50000), true, false},
		{"wide table", strings.Repeat("|a", 2000) + "|\n" + strings.Repeat("|-", 2000) + "|\n", true, false},
		{"huge", strings.Repeat("word ", MaxSourceBytes/5+1), false, true},
		// Over the output budget: shown as text, with the reason.
		{"output bomb", "|a|\n|-|\n" + strings.Repeat("|\n", 500000), true, false},
		{"emphasis", strings.Repeat("*a **a ", 100000), false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A budget no test machine reaches: these cases are about
			// what the output holds, the budget has tests of its own.
			r := renderT(t, c.src, Budget{CPU: time.Minute, Output: DefaultBudget.Output})
			if (r.Plain != "") != c.plain {
				t.Errorf("plain text fallback = %v, want %v", r.Plain != "", c.plain)
			}
			if (r.Problem != "") != c.tooLarge {
				t.Errorf("problem %q, want too large: %v", r.Problem, c.tooLarge)
			}
			if len(r.HTML) > DefaultBudget.Output {
				t.Errorf("%d bytes of HTML, limit %d", len(r.HTML), DefaultBudget.Output)
			}
			if d := depth(r.HTML); d > MaxNesting {
				t.Errorf("nesting %d, limit %d", d, MaxNesting)
			}
			if c.plain && r.Reason == "" {
				t.Errorf("shown as plain text with no reason")
			}
			if m := unsafeRe.FindString(r.HTML); m != "" {
				t.Errorf("output holds %q", m)
			}
		})
	}
}

func BenchmarkRenderMarkdownHostile(b *testing.B) {
	src := []byte(strings.Repeat("*a **a [x](", 20000) + strings.Repeat("<div>", 20000))
	b.SetBytes(int64(len(src)))
	for i := 0; i < b.N; i++ {
		Render(context.Background(), src, "docs/README.md", own, DefaultBudget)
	}
}

// FuzzRenderMarkdown: whatever the Markdown, the output holds nothing that
// runs, no image but the package's own files, and stays within bounds.
func FuzzRenderMarkdown(f *testing.F) {
	for _, s := range []string{
		"<script>alert(1)</script>", `<img src=x onerror=alert(1)>`, "[x](javascript:alert(1))",
		"![i](data:image/png;base64,AAAA)", "<svg onload=alert(1)>", `<a href="&#106;avascript:x">z</a>`,
		"| a |\n|---|\n| <b onclick=x>1</b> |", "![ok](../img/ok.png)", "> > > quote", "<details><summary>s</summary>x</details>",
		"<img src=\"../img/ok.png\" alt=\"a\"", "<a href='//evil.example/'>x</a>", "<div style=\"x:y\"><p>nest</div></p>",
	} {
		f.Add(s)
	}
	imgRe := regexp.MustCompile(`<img[^>]*\ssrc="([^"]*)"`)
	f.Fuzz(func(t *testing.T, src string) {
		// A hang detector, not a speed check: the fuzzer records the input
		// that crashes its worker.
		hang := time.AfterFunc(20*time.Second, func() { panic(fmt.Sprintf("rendering did not finish in 20s: %q", src)) })
		defer hang.Stop()
		r := renderT(t, src, DefaultBudget)
		out := r.HTML
		if m := htmltest.UnsafeMarkup(out); m != "" {
			t.Fatalf("output holds %s:\n%s", m, out)
		}
		for _, m := range imgRe.FindAllStringSubmatch(out, -1) {
			if !strings.HasPrefix(m[1], "/package/p/1.0.0/img/") {
				t.Fatalf("image %q is not a file of the package:\n%s", m[1], out)
			}
		}
		if len(out) > DefaultBudget.Output || depth(out) > MaxNesting {
			t.Fatalf("output %d bytes, depth %d", len(out), depth(out))
		}
	})
}
