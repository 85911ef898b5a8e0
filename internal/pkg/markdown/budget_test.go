package markdown

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// attackShapes are the shapes of issue 21: 1 MiB of each took from 15 s to
// 5 min 37 s to render before budgets (the catalog rendered on every view).
var attackShapes = []string{"> - ", "- > ", ">- ", "> 1. ", "[a](\n", "[a]\n", "# a\n", "a\n=\n"}

// megabyte repeats shape to MaxSourceBytes.
func megabyte(shape string) []byte {
	return bytes.Repeat([]byte(shape), MaxSourceBytes/len(shape))
}

// cpuOf runs f on a thread of its own and returns the CPU time it used;
// ok is false where the platform cannot tell.
func cpuOf(f func()) (used time.Duration, ok bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0, ok := threadCPU()
	f()
	c1, _ := threadCPU()
	return c1 - c0, ok
}

// TestPrecheckRejectsAttacks: the known shapes never reach the parser: the
// pre-check refuses them in one pass, and the README is shown as text.
func TestPrecheckRejectsAttacks(t *testing.T) {
	for _, shape := range attackShapes {
		t.Run(fmt.Sprintf("%q", shape), func(t *testing.T) {
			src := megabyte(shape)
			before := Parses()
			r := renderT(t, string(src), DefaultBudget)
			if Parses() != before {
				t.Errorf("the parser ran")
			}
			if r.Plain != string(src) || r.Reason == "" || r.HTML != "" {
				t.Errorf("not shown as plain text with a reason: reason %q, %d bytes of HTML", r.Reason, len(r.HTML))
			}
		})
	}
	// Ordinary Markdown passes the pre-check: nesting a reader can follow,
	// links across lines, tables, deep HTML.
	for _, ok := range []string{
		strings.Repeat("> ", 30) + "- x\n",
		strings.Repeat("- a\n  - b\n    - c\n      - d\n", 2000),
		strings.Repeat("See [the docs](https://www.elastic.co/guide/)\nand [more](../changelog.yml).\n", 2000),
		strings.Repeat("| a | [b](https://x.example/) |\n", 3000),
		strings.Repeat("<div>", 50000),
		strings.Repeat("1. one\n2. two\n   * three\n", 3000),
		strings.Repeat("## Setup\n\ntext\n\nTitle\n=====\n\n", 3000),
	} {
		if why := tooComplex([]byte(ok)); why != "" {
			t.Errorf("refused (%s): %.60q", why, ok)
		}
	}
}

// TestBudgetStopsParser: with the pre-check out of the way, every attack
// shape is stopped by the budget, promptly: the guarded parser checks it
// at every step, so the CPU time spent stays near the budget instead of
// running for minutes.
func TestBudgetStopsParser(t *testing.T) {
	b := Budget{CPU: 250 * time.Millisecond, Output: DefaultBudget.Output}
	for _, shape := range attackShapes {
		t.Run(fmt.Sprintf("%q", shape), func(t *testing.T) {
			var over *overBudget
			used, ok := cpuOf(func() { _, over = render(context.Background(), megabyte(shape), "docs/README.md", own, b) })
			if over == nil {
				t.Fatalf("rendered within %s", b.CPU)
			}
			if !strings.Contains(over.why, "CPU time") && !over.starved {
				t.Errorf("stopped for %q, want the CPU budget", over.why)
			}
			// Generous: a tick is never far, even under -race.
			if ok && used > b.CPU+2*time.Second {
				t.Errorf("used %s of CPU for a budget of %s", used, b.CPU)
			}
		})
	}
}

// TestRenderCancelled: a render stops when its context ends, and Render
// reports the context's error (the result must not be stored).
func TestRenderCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	_, over := render(ctx, megabyte("> - "), "docs/README.md", own, Budget{CPU: time.Hour, Output: DefaultBudget.Output})
	if over == nil || over.why != "the render was cancelled" {
		t.Fatalf("not cancelled: %+v", over)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stopped %s after the cancellation", took)
	}
	if _, err := Render(ctx, []byte("# fine\n"), "docs/README.md", own, DefaultBudget); !errors.Is(err, context.Canceled) {
		t.Errorf("Render with a done context: %v", err)
	}
}

// TestOutputBudget: a README whose HTML would pass the output budget is
// shown as text, saying so.
func TestOutputBudget(t *testing.T) {
	r := renderT(t, strings.Repeat("word ", 10000), Budget{CPU: time.Minute, Output: 4096})
	if r.Plain == "" || !strings.Contains(r.Reason, "larger than the limit of 4096 bytes") {
		t.Errorf("reason %q", r.Reason)
	}
}

// attackAlphabet is what the generator builds READMEs from: the container
// markers and inline openers behind every slow shape known.
var attackAlphabet = []string{">", "-", " ", "1.", "[", "]", "(", ")", "\n", "*", "|", "`", "<", "a"}

// generate returns a README of at least size bytes over attackAlphabet:
// a short motif repeated with rare mutations (how the slow shapes look),
// or tokens drawn at random.
func generate(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	if r.IntN(4) == 0 {
		for b.Len() < size {
			b.WriteString(attackAlphabet[r.IntN(len(attackAlphabet))])
		}
		return b.Bytes()
	}
	motif := make([]string, 1+r.IntN(6))
	for i := range motif {
		motif[i] = attackAlphabet[r.IntN(len(attackAlphabet))]
	}
	for b.Len() < size {
		for _, tok := range motif {
			if r.IntN(200) == 0 {
				tok = attackAlphabet[r.IntN(len(attackAlphabet))]
			}
			b.WriteString(tok)
		}
	}
	return b.Bytes()
}

// TestGeneratedAttacksWithinBudget: READMEs of 1 MiB generated over the
// attack alphabet (seeded: the same ones every run) each render within
// the default budget, shown either as HTML or as text with a reason.
func TestGeneratedAttacksWithinBudget(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 1))
	n := 12
	if testing.Short() {
		n = 3
	}
	for i := range n {
		src := generate(r, MaxSourceBytes-8)
		var res Result
		var err error
		used, ok := cpuOf(func() { res, err = Render(context.Background(), src, "docs/README.md", own, DefaultBudget) })
		if err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		if res.HTML == "" && (res.Plain == "" || res.Reason == "") {
			t.Errorf("input %d (%.40q…): neither HTML nor text with a reason: %+v", i, src, res.Problem)
		}
		if ok && used > DefaultBudget.CPU+2*time.Second {
			t.Errorf("input %d (%.40q…): %s of CPU, budget %s", i, src, used, DefaultBudget.CPU)
		}
		t.Logf("input %d (%.24q…): %s of CPU, plain=%v %s", i, src, used.Round(time.Millisecond), res.Plain != "", res.Reason)
	}
}

// FuzzRenderTime fails on a README the renderer takes more than linear
// time on: its budget is proportional to its size (5 µs a byte, fifty
// times what ordinary Markdown costs, plus 50 ms), so a render the budget
// stops is a shape the pre-check should have refused. Run it with
// go test -fuzz FuzzRenderTime ./internal/pkg/markdown/.
func FuzzRenderTime(f *testing.F) {
	for _, s := range attackShapes {
		f.Add(strings.Repeat(s, 1024))
	}
	for _, s := range []string{"*a **a ", "`` `", "<a\n", "[[[]]", "| a |\n", "<div>", "<a href=\"\n", "- a\n  - b\n"} {
		f.Add(strings.Repeat(s, 1024))
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 256<<10 {
			t.Skip("larger than this target looks at")
		}
		b := Budget{CPU: 50*time.Millisecond + time.Duration(len(src))*5*time.Microsecond, Output: DefaultBudget.Output}
		if raceEnabled {
			b.CPU *= 10
		}
		b.Wall = b.CPU * 100 // a busy machine is not what this looks for
		r, err := Render(context.Background(), []byte(src), "docs/README.md", own, b)
		if err != nil {
			t.Fatal(err)
		}
		if r.Plain != "" && strings.Contains(r.Reason, "CPU time") {
			t.Fatalf("%d bytes took more than %s of CPU: %.80q", len(src), b.CPU, src)
		}
	})
}

// BenchmarkAttacks renders 1 MiB of each attack shape: through Render
// (the pre-check refuses it) and through the guarded parser alone (the
// budget stops it), and 1 MiB of ordinary Markdown.
//
//	go test -run '^$' -bench Attacks -benchtime 3x ./internal/pkg/markdown/
func BenchmarkAttacks(b *testing.B) {
	for _, shape := range attackShapes {
		src := megabyte(shape)
		b.Run(fmt.Sprintf("Render/%q", shape), func(b *testing.B) {
			for b.Loop() {
				Render(context.Background(), src, "docs/README.md", own, DefaultBudget)
			}
		})
		b.Run(fmt.Sprintf("Parser/%q", shape), func(b *testing.B) {
			for b.Loop() {
				render(context.Background(), src, "docs/README.md", own, DefaultBudget)
			}
		})
	}
	ordinary := megabyte("## Setup\n\nSome *text* with a [link](https://www.elastic.co/) and `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n  - nested\n\n")
	b.Run("Render/ordinary", func(b *testing.B) {
		for b.Loop() {
			if r, _ := Render(context.Background(), ordinary, "docs/README.md", own, DefaultBudget); r.HTML == "" {
				b.Fatalf("not rendered: %s", r.Reason)
			}
		}
	})
}
