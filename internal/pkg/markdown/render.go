package markdown

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
)

// Limits on untrusted Markdown besides the budget.
const (
	// MaxSourceBytes is the largest README rendered; a larger one is not
	// read at all (the page links to the file).
	MaxSourceBytes = 1 << 20
	// MaxNesting is the deepest element nesting kept in the output; deeper
	// markup is flattened, not refused.
	MaxNesting = 48
)

// Result is a rendered README: sanitised HTML, or the source to show as
// escaped plain text with the reason, or a problem that left nothing to
// show. It is what the publishing job stores and the catalog serves.
type Result struct {
	HTML    string `json:"html,omitempty"`    // sanitised; safe to put in a page as is
	Plain   string `json:"plain,omitempty"`   // the source, to be escaped, when it was not rendered
	Reason  string `json:"reason,omitempty"`  // why Plain rather than HTML ("its Markdown nests too deeply")
	Dropped int    `json:"dropped,omitempty"` // images removed because they are not the package's own
	Problem string `json:"problem,omitempty"` // why nothing is shown ("too large to display here")

	// Starved is set when the render was stopped by wall time while its
	// own CPU time was within budget (a machine too busy to give it any):
	// the README may well fit, so the result is shown but not stored, and
	// the README is rendered again later.
	Starved bool `json:"-"`
}

// ProblemTooLarge is the Problem of a README over MaxSourceBytes.
const ProblemTooLarge = "too large to display here"

// md renders GitHub-flavoured Markdown (tables, strikethrough, task lists,
// autolinks). Raw HTML is let through goldmark because READMEs use it
// (<details>, <br>, tables); the sanitiser below is what decides what stays.
// Every parser in it is guarded (guard.go): it ticks the render's meter.
// Built on first use, not at init: a process that renders no README (a
// serve over package paths, most commands) does not pay for it.
var md = sync.OnceValue(func() goldmark.Markdown {
	m := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithParserOptions(parser.WithAutoHeadingID()),
		goldmark.WithRendererOptions(html.WithUnsafe()),
	)
	m.Parser().AddOptions(guard{}) // last: wraps everything above
	return m
})

// sanitizer is the one gate between package text and the page: no script,
// no event handlers, no style, no forms or frames, URLs only http, https,
// mailto or relative. It is safe for concurrent use once built (on first
// use, as md).
var sanitizer = sync.OnceValue(func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(false)
	// Heading ids come from goldmark's auto ids; they are plain words.
	p.AllowAttrs("id").Matching(bluemonday.Paragraph).OnElements("h1", "h2", "h3", "h4", "h5", "h6")
	p.AllowAttrs("align").Matching(bluemonday.Paragraph).OnElements("th", "td")
	p.AllowElements("details", "summary")
	return p
})

// parses counts the Markdown parses started, for the tests that check a
// page view never runs the parser.
var parses atomic.Int64

// Parses is the number of Markdown parses this process has started.
func Parses() int64 { return parses.Load() }

// Render turns the untrusted Markdown src of the package file at docPath
// (relative to the package root, e.g. "docs/README.md") into safe HTML
// within budget b. own are the revision's files: relative image and link
// targets are resolved against docPath's folder and rewritten under their
// static URL prefix; images that are not among own are dropped, so a
// README shows only the package's own files and cannot make the browser
// call out.
//
// A README over the budget, or of a shape the pre-check knows to be
// expensive, comes back as Plain with the Reason. The error is set only
// when ctx is done before the render finished: the result then says
// nothing about the README and must not be stored.
func Render(ctx context.Context, src []byte, docPath string, own Files, b Budget) (Result, error) {
	if len(src) > MaxSourceBytes {
		return Result{Problem: ProblemTooLarge}, nil
	}
	if why := tooComplex(src); why != "" {
		return plain(src, why), nil
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	res, over := render(ctx, src, docPath, own, b)
	if over != nil {
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("render %s: %w", docPath, err)
		}
		r := plain(src, over.why)
		r.Starved = over.starved
		return r, nil
	}
	return res, nil
}

// plain is the fallback: the source shown as text. Invalid UTF-8 is
// replaced so that the stored record stays valid JSON text.
func plain(src []byte, why string) Result {
	return Result{Plain: string(bytes.ToValidUTF8(src, []byte(string(utf8.RuneError)))), Reason: why}
}

// render runs goldmark, the sanitiser and the rewrite under one meter.
func render(ctx context.Context, src []byte, docPath string, own Files, b Budget) (res Result, over *overBudget) {
	m, done := newMeter(ctx, b)
	defer done()
	defer func() {
		switch r := recover().(type) {
		case nil:
		case overBudget:
			over = &r
		default:
			// A goldmark bug met by hostile text must not take the
			// publishing worker or the page down: the README is shown as
			// text instead.
			over = &overBudget{why: fmt.Sprintf("the Markdown parser failed on it (%v)", r)}
		}
	}()
	parses.Add(1)
	pc := parser.NewContext()
	pc.Set(meterKey, m)
	doc := md().Parser().Parse(text.NewReader(src), parser.WithContext(pc))
	out := &budgetWriter{m: m, max: b.Output}
	if err := md().Renderer().Render(out, src, doc); err != nil {
		return Result{}, &overBudget{why: fmt.Sprintf("it could not be rendered (%v)", err)}
	}
	m.check()
	clean := sanitizer().SanitizeReader(&out.buf)
	m.check()
	var w bytes.Buffer
	w.Grow(clean.Len())
	dropped := rewrite(&w, clean, path.Dir(docPath), own, m)
	return Result{HTML: w.String(), Dropped: dropped}, nil
}

// budgetWriter collects goldmark's HTML, refusing more than max bytes and
// ticking the meter on every write: the render walk is metered too. It is
// a goldmark util.BufWriter, so goldmark writes to it directly.
type budgetWriter struct {
	buf bytes.Buffer
	m   *meter
	max int
}

func (w *budgetWriter) grow(n int) {
	w.m.tick()
	if w.buf.Len()+n > w.max {
		panic(overBudget{why: fmt.Sprintf("its HTML would be larger than the limit of %d bytes", w.max)})
	}
}

func (w *budgetWriter) Write(p []byte) (int, error) { w.grow(len(p)); return w.buf.Write(p) }
func (w *budgetWriter) WriteString(s string) (int, error) {
	w.grow(len(s))
	return w.buf.WriteString(s)
}
func (w *budgetWriter) WriteByte(c byte) error { w.grow(1); return w.buf.WriteByte(c) }
func (w *budgetWriter) WriteRune(r rune) (int, error) {
	w.grow(utf8.RuneLen(r))
	return w.buf.WriteRune(r)
}
func (w *budgetWriter) Flush() error   { return nil }
func (w *budgetWriter) Available() int { return 4096 }
func (w *budgetWriter) Buffered() int  { return 0 }
