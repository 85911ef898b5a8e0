package ui

import (
	"bytes"
	"html/template"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer/html"
	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Limits on untrusted Markdown. A README is package text: it can be huge or
// pathologically nested, so both its size and what it renders to are
// bounded, and nesting deeper than a reader could follow is flattened.
const (
	maxMarkdownBytes = 1 << 20 // source read from the bucket
	maxRenderedBytes = 3 << 20 // HTML produced by goldmark
	maxNesting       = 48      // open elements kept in the output
)

// Shapes goldmark parses in more than linear time (measured: 100 KB of
// ">" takes 13 s, a 20 KB line of "[a](" 0.6 s). A source showing one is
// displayed as plain text instead: still readable, bounded cost.
const (
	maxQuoteDepth   = 32      // ">" markers opening one line
	maxIndent       = 128     // leading columns of one line
	maxLinkLineCost = 4 << 20 // "](" count times line length
	maxTableColumns = 512     // "|" in one line
)

// md renders GitHub-flavoured Markdown (tables, strikethrough, task lists,
// autolinks). Raw HTML is let through goldmark because READMEs use it
// (<details>, <br>, tables); the sanitiser below is what decides what stays.
var md = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithAutoHeadingID()),
	goldmark.WithRendererOptions(html.WithUnsafe()),
)

// sanitizer is the one gate between package text and the page: no script,
// no event handlers, no style, no forms or frames, URLs only http, https,
// mailto or relative. It is safe for concurrent use once built.
var sanitizer = func() *bluemonday.Policy {
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
}()

// rendered is the outcome of renderMarkdown.
type rendered struct {
	HTML    template.HTML
	Plain   string // the source, shown as text when it is too complex to parse
	Dropped int    // images removed because they were not the package's own
	Problem string // why nothing was rendered ("" when HTML is set)
}

// renderMarkdown turns the untrusted Markdown src of the package file at
// docPath (relative to the package root, e.g. "docs/README.md") into safe
// HTML. own are the revision's files under its static URL prefix
// "/package/N/V/": relative image and link targets are resolved against
// docPath's folder and rewritten under it; images that are not among own
// are dropped, so a README
// shows only the package's own files and cannot make the browser call out.
func renderMarkdown(src []byte, docPath string, own files) rendered {
	if len(src) > maxMarkdownBytes {
		return rendered{Problem: "too large to display here"}
	}
	if tooComplex(src) {
		return rendered{Plain: string(src)}
	}
	var raw bytes.Buffer
	if err := md.Convert(src, &limitWriter{w: &raw, n: maxRenderedBytes}); err != nil {
		return rendered{Problem: "too large to display here"}
	}
	clean := sanitizer.SanitizeReader(&raw)
	var out bytes.Buffer
	out.Grow(clean.Len())
	dropped := rewrite(&out, clean, path.Dir(docPath), own)
	return rendered{HTML: template.HTML(out.String()), Dropped: dropped}
}

// tooComplex reports whether src has a shape goldmark parses slowly.
func tooComplex(src []byte) bool {
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		quotes, indent := 0, 0
	lead:
		for _, c := range line {
			switch c {
			case '>':
				quotes++
				indent++
			case ' ':
				indent++
			case '\t':
				indent += 4
			default:
				break lead
			}
		}
		if quotes > maxQuoteDepth || indent > maxIndent ||
			bytes.Count(line, []byte("]("))*len(line) > maxLinkLineCost ||
			bytes.Count(line, []byte("|")) > maxTableColumns {
			return true
		}
	}
	return false
}

// errTooLarge stops goldmark when its output passes the limit.
var errTooLarge = io.ErrShortWrite

type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, errTooLarge
	}
	return l.w.Write(p)
}

// rewrite copies sanitised HTML from r to w, resolving the targets of <img
// src> and <a href>, dropping images that are not the package's own files
// and flattening nesting deeper than maxNesting. It only ever removes
// markup or replaces a URL by a same-origin path it built itself, so it
// cannot undo the sanitiser's work. It returns the number of images dropped.
func rewrite(w *bytes.Buffer, r io.Reader, dir string, own files) int {
	z := xhtml.NewTokenizer(r)
	type open struct {
		name string
		kept bool
	}
	var stack []open // every open element, kept or dropped for depth
	kept := 0
	dropped := 0
	closeFrom := func(i int) {
		for j := len(stack) - 1; j >= i; j-- {
			if stack[j].kept {
				w.WriteString("</" + stack[j].name + ">")
				kept--
			}
		}
		stack = stack[:i]
	}
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			closeFrom(0)
			return dropped
		case xhtml.TextToken, xhtml.CommentToken, xhtml.DoctypeToken:
			w.Write(z.Raw())
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			tok := z.Token()
			void := tt == xhtml.SelfClosingTagToken || isVoid(tok.DataAtom)
			switch tok.DataAtom {
			case atom.Img:
				src, ok := own.imageURL(attr(tok, "src"), dir)
				if !ok {
					dropped++
					if alt := attr(tok, "alt"); alt != "" {
						w.WriteString(xhtml.EscapeString(alt))
					}
					continue
				}
				setAttr(&tok, "src", src)
				setAttr(&tok, "alt", attr(tok, "alt")) // decorative unless the author says otherwise
				setAttr(&tok, "loading", "lazy")
			case atom.A:
				if href := attr(tok, "href"); href != "" {
					if nh, ok := own.linkURL(href, dir); ok {
						setAttr(&tok, "href", nh)
					} else {
						delAttr(&tok, "href")
					}
				}
			}
			if void {
				w.WriteString(tok.String())
				continue
			}
			keep := kept < maxNesting
			stack = append(stack, open{name: tok.Data, kept: keep})
			if keep {
				kept++
				w.WriteString(tok.String())
			}
		case xhtml.EndTagToken:
			name, _ := z.TagName()
			i := len(stack) - 1
			for i >= 0 && stack[i].name != string(name) {
				i--
			}
			if i >= 0 { // an end tag with nothing open to close is dropped
				closeFrom(i)
			}
		}
	}
}

func isVoid(a atom.Atom) bool {
	switch a {
	case atom.Area, atom.Br, atom.Col, atom.Embed, atom.Hr, atom.Img, atom.Input, atom.Link, atom.Meta, atom.Source, atom.Track, atom.Wbr:
		return true
	}
	return false
}

func attr(t xhtml.Token, key string) string {
	for _, a := range t.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func setAttr(t *xhtml.Token, key, val string) {
	for i := range t.Attr {
		if t.Attr[i].Key == key {
			t.Attr[i].Val = val
			return
		}
	}
	t.Attr = append(t.Attr, xhtml.Attribute{Key: key, Val: val})
}

func delAttr(t *xhtml.Token, key string) {
	out := t.Attr[:0]
	for _, a := range t.Attr {
		if a.Key != key {
			out = append(out, a)
		}
	}
	t.Attr = out
}

// ownURL resolves an image reference to a static URL of the package itself:
// a path relative to dir, a path from the package root ("/img/x.png", the
// manifest's convention), or a full /package/N/V/ URL of this revision.
// Anything else (other hosts, other packages, data:, escapes from the
// package root) is refused.
func (f files) imageURL(ref, dir string) (string, bool) {
	rel, ok := f.imagePath(ref, dir)
	if !ok {
		return "", false
	}
	return staticURL(f.base, rel), true
}

// imagePath is the package file an image reference names.
func (f files) imagePath(ref, dir string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil || ref == "" || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil {
		return "", false
	}
	rel, ok := packagePath(u.Path, dir, f.base)
	if !ok || !f.has(rel) {
		return "", false
	}
	return rel, true
}

// screenshotURL resolves a manifest's screenshot src: shown only when the
// file is an image type (screenshotTypes), and linked on its own only when
// a README may link to it too (linkable, which leaves SVG out).
func (f files) screenshotURL(ref string) (u string, link, ok bool) {
	rel, ok := f.imagePath(ref, "")
	if !ok {
		return "", false, false
	}
	ext := strings.ToLower(path.Ext(rel))
	if !screenshotTypes[ext] {
		return "", false, false
	}
	return staticURL(f.base, rel), linkable[ext], true
}

// files are the static files of one revision.
type files struct {
	base string          // "/package/N/V/"
	set  map[string]bool // paths from the package root; nil: not listed
}

// newFiles builds the set from a document's assets (full static URLs).
func newFiles(base string, assets []string) files {
	f := files{base: base}
	if len(assets) > 0 {
		f.set = make(map[string]bool, len(assets))
		for _, a := range assets {
			if rel, ok := strings.CutPrefix(a, base); ok {
				f.set[rel] = true
			}
		}
	}
	return f
}

// has reports whether rel is a file of the package; without a list (an
// index written by other software may omit assets) every path is taken.
func (f files) has(rel string) bool { return f.set == nil || f.set[rel] }

// packagePath maps a reference path to a file path inside the package.
func packagePath(p, dir, staticBase string) (string, bool) {
	if p == "" {
		return "", false
	}
	var full string
	switch {
	case strings.HasPrefix(p, staticBase):
		full = strings.TrimPrefix(p, staticBase)
	case strings.HasPrefix(p, "/package/"):
		return "", false // another revision's files
	case strings.HasPrefix(p, "/"):
		full = p[1:]
	default:
		full = path.Join(dir, p)
	}
	full = path.Clean("/" + full)[1:]
	if full == "" || full == "." || strings.HasPrefix(full, "../") {
		return "", false
	}
	return full, true
}

// linkURL resolves a link target: fragments and absolute http(s)/mailto
// links stay (the sanitiser has already refused every other scheme);
// relative paths become the package's static URLs; paths that leave the
// package are dropped.
func (f files) linkURL(ref, dir string) (string, bool) {
	ref = strings.TrimSpace(ref)
	if strings.HasPrefix(ref, "#") {
		return ref, true
	}
	u, err := url.Parse(ref)
	if err != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "mailto":
		return u.String(), true
	case "":
	default:
		return "", false
	}
	if u.Host != "" || u.Opaque != "" {
		return "", false // scheme-relative //host links
	}
	rel, ok := packagePath(u.Path, dir, f.base)
	if !ok || !linkable[strings.ToLower(path.Ext(rel))] {
		return "", false
	}
	s := staticURL(f.base, rel)
	if u.Fragment != "" {
		s += "#" + url.PathEscape(u.Fragment)
	}
	return s, true
}

// linkable are the extensions of package files a README may link to. The
// registry serves static files as EPR does, with no CSP: an SVG or HTML
// file opened on its own would run its script in the registry's origin, so
// the catalog never links to one (images still show SVG, in <img>).
var linkable = map[string]bool{
	".md": true, ".markdown": true, ".txt": true, ".yml": true, ".yaml": true, ".json": true,
	".csv": true, ".log": true, ".png": true, ".jpg": true, ".jpeg": true, ".gif": true,
	".webp": true, ".ico": true, ".pdf": true,
}

// screenshotTypes are the extensions of package files the catalog shows as
// screenshots: the image types among linkable, and SVG, which is shown (in
// <img>, where its script never runs) but never linked. A screenshot of any
// other file (a manifest naming /img/page.html) is left out of the page.
var screenshotTypes = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".ico": true,
	".svg": true,
}

// staticURL is the URL of the package file rel under staticBase, each
// segment escaped.
func staticURL(staticBase, rel string) string {
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return staticBase + strings.Join(segs, "/")
}
