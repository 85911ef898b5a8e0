package markdown

import (
	"net/url"
	"path"
	"strings"

	"pkgstore/internal/pkg/packageid"
)

// Files are the static files of one revision: what a README may show and
// link to.
type Files struct {
	base string          // "/package/N/V/"
	set  map[string]bool // paths from the package root; nil: not listed
}

// StaticBase is the prefix of a revision's static files on the registry,
// "/package/N/V/".
func StaticBase(id packageid.ID) string { return "/package/" + id.Name + "/" + id.Version + "/" }

// NewFiles builds the set from a document's assets (full static URLs under
// base). Without assets (an index written by other software may omit
// them) every path under base is taken as the package's own.
func NewFiles(base string, assets []string) Files {
	f := Files{base: base}
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

// Base is the static URL prefix the files are under.
func (f Files) Base() string { return f.base }

// Has reports whether rel is a file of the package; without a list every
// path is taken.
func (f Files) Has(rel string) bool { return f.set == nil || f.set[rel] }

// ImageURL resolves an image reference to a static URL of the package
// itself: a path relative to dir, a path from the package root
// ("/img/x.png", the manifest's convention), or a full /package/N/V/ URL
// of this revision. Anything else (other hosts, other packages, data:,
// escapes from the package root) is refused.
func (f Files) ImageURL(ref, dir string) (string, bool) {
	rel, ok := f.imagePath(ref, dir)
	if !ok {
		return "", false
	}
	return StaticURL(f.base, rel), true
}

// imagePath is the package file an image reference names.
func (f Files) imagePath(ref, dir string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil || ref == "" || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil {
		return "", false
	}
	rel, ok := PackagePath(u.Path, dir, f.base)
	if !ok || !f.Has(rel) {
		return "", false
	}
	return rel, true
}

// ScreenshotURL resolves a manifest's screenshot src: shown only when the
// file is an image type (screenshotTypes), and linked on its own only when
// a README may link to it too (linkable, which leaves SVG out).
func (f Files) ScreenshotURL(ref string) (u string, link, ok bool) {
	rel, ok := f.imagePath(ref, "")
	if !ok {
		return "", false, false
	}
	ext := strings.ToLower(path.Ext(rel))
	if !screenshotTypes[ext] {
		return "", false, false
	}
	return StaticURL(f.base, rel), linkable[ext], true
}

// PackagePath maps a reference path, relative to the folder dir of the
// package or from its root, to a file path inside the package; a full
// static URL under staticBase is taken too. It refuses other revisions'
// URLs and escapes from the root.
func PackagePath(p, dir, staticBase string) (string, bool) {
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
func (f Files) linkURL(ref, dir string) (string, bool) {
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
	rel, ok := PackagePath(u.Path, dir, f.base)
	if !ok || !linkable[strings.ToLower(path.Ext(rel))] {
		return "", false
	}
	s := StaticURL(f.base, rel)
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

// StaticURL is the URL of the package file rel under staticBase, each
// segment escaped.
func StaticURL(staticBase, rel string) string {
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return staticBase + strings.Join(segs, "/")
}
