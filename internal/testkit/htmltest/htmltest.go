// Package htmltest checks HTML that the catalog shows from package text:
// whatever could run a script or load something must never be in it.
package htmltest

import (
	"net/url"
	"strings"

	xhtml "golang.org/x/net/html"
)

// UnsafeMarkup returns the first element or attribute of h that could run
// or load something: a forbidden element, an event handler or style
// attribute, or a URL with a scheme other than http, https or mailto.
func UnsafeMarkup(h string) string {
	z := xhtml.NewTokenizer(strings.NewReader(h))
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return ""
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "iframe", "object", "embed", "form", "svg", "math", "style", "link", "meta", "base", "input", "button", "frame", "frameset", "applet":
				return "element " + tok.Data
			}
			for _, a := range tok.Attr {
				k := strings.ToLower(a.Key)
				if strings.HasPrefix(k, "on") || k == "style" || k == "srcset" || k == "formaction" {
					return "attribute " + a.Key
				}
				if k == "href" || k == "src" || k == "action" || k == "cite" {
					u, err := url.Parse(strings.TrimSpace(a.Val))
					if err != nil {
						return "unparsable " + a.Key
					}
					switch strings.ToLower(u.Scheme) {
					case "", "http", "https", "mailto":
					default:
						return a.Key + " " + a.Val
					}
				}
			}
		}
	}
}
