package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"

	"pkgstore/internal/pkg/mediatype"
	"pkgstore/internal/registry/pkgpath"
)

// serveLocalArtifact serves the zip or signature of a package-path
// package as EPR does: the zip file itself (Range, conditional requests),
// a zip generated from a folder package (streamed: no length, no Range),
// the signature file beside the package. A package whose signature file is
// missing answers 500, as EPR's.
func (r *Registry) serveLocalArtifact(w http.ResponseWriter, req *http.Request, p *pkgpath.Package, sig bool) {
	if sig {
		if p.SigPath == "" {
			internalError(w)
			return
		}
		if fi, err := os.Stat(p.SigPath); err == nil && fi.IsDir() {
			// A folder in the signature's place: EPR zips it as it
			// zips a folder package (a length of 2^63-1 otherwise).
			r.serveFolderZip(w, req, p, p.SigPath)
			return
		}
		r.serveLocalFile(w, req, p.SigPath, "application/pgp-signature")
		return
	}
	if p.Zip {
		r.serveLocalFile(w, req, p.Path, "application/zip")
		return
	}
	r.serveFolderZip(w, req, p, p.Path)
}

// serveFolderZip streams the zip EPR generates from a folder: no length,
// no Range.
func (r *Registry) serveFolderZip(w http.ResponseWriter, req *http.Request, p *pkgpath.Package, dir string) {
	w.Header().Set("Content-Type", "application/zip")
	if req.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	// Errors while streaming can only be logged: the status is sent.
	if err := p.WriteFolderZip(w, dir); err != nil {
		r.log.Error("generate package zip", "package", p.ID.String(), "file.path", dir, "err", err)
	}
}

// serveLocalFile serves a file of a package path with its size and time
// as the validator (a changed file gets a new ETag).
func (r *Registry) serveLocalFile(w http.ResponseWriter, req *http.Request, path, ctype string) {
	f, err := os.Open(path)
	if err != nil {
		r.log.Error("read package path", "file.path", path, "err", err)
		internalError(w)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		r.log.Error("read package path", "file.path", path, "err", err)
		internalError(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano()))
	http.ServeContent(w, req, "", fi.ModTime(), f)
}

// serveLocalStatic serves one file of a package-path package.
func (r *Registry) serveLocalStatic(w http.ResponseWriter, req *http.Request, p *pkgpath.Package, rel string) {
	f, err := p.OpenStatic(rel)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "resource not found", http.StatusNotFound)
		return
	}
	if err != nil {
		r.log.Error("read package path", "package", p.ID.String(), "file", rel, "err", err)
		internalError(w)
		return
	}
	defer f.Close()
	h := w.Header()
	if ct := mediatype.ByExtension(rel); ct != "" {
		h.Set("Content-Type", ct)
	}
	h.Set("ETag", `"`+strconv.FormatInt(f.Size, 16)+"-"+strconv.FormatInt(f.ModTime.UnixNano(), 16)+`"`)
	http.ServeContent(w, req, "", f.ModTime, f)
}
