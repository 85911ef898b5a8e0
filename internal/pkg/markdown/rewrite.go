package markdown

import (
	"bytes"
	"io"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// rewrite copies sanitised HTML from r to w, resolving the targets of <img
// src> and <a href>, dropping images that are not the package's own files
// and flattening nesting deeper than MaxNesting. It only ever removes
// markup or replaces a URL by a same-origin path it built itself, so it
// cannot undo the sanitiser's work. It returns the number of images
// dropped. m (may be nil) is ticked at every token.
func rewrite(w *bytes.Buffer, r io.Reader, dir string, own Files, m *meter) int {
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
		if m != nil {
			m.tick()
		}
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			closeFrom(0)
			return dropped
		case xhtml.TextToken, xhtml.CommentToken, xhtml.DoctypeToken:
			w.Write(z.Raw())
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			tok := z.Token()
			void := tt == xhtml.SelfClosingTagToken || IsVoid(tok.DataAtom)
			switch tok.DataAtom {
			case atom.Img:
				src, ok := own.ImageURL(attr(tok, "src"), dir)
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
			keep := kept < MaxNesting
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

// IsVoid reports whether a is an HTML element without an end tag.
func IsVoid(a atom.Atom) bool {
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
