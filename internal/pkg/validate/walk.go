package validate

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// readManifestHeader reads name, type, version and format_version. It returns
// false when validation cannot go on (the fatal problem has been recorded).
func (p *pkg) readManifestHeader() bool {
	v, fd, err := p.parsed("manifest.yml")
	if err != nil && fd == nil {
		if p.ioErr != nil {
			return false
		}
		p.addf("manifest.yml", "no package manifest file found at path [manifest.yml]: file does not exist")
		return false
	}
	if err != nil {
		p.addf("manifest.yml", "can't parse package manifest: %v", err)
		return false
	}
	m, _ := v.(map[string]any)
	if m == nil {
		p.addf("manifest.yml", "package manifest is not a YAML object")
		return false
	}
	p.name, _ = m["name"].(string)
	p.typ = str(m["type"])
	if p.typ == "" {
		p.addf("manifest.yml", "package type undefined in the package manifest file")
		return false
	}
	p.version = str(m["version"])
	if p.version == "" {
		p.addf("manifest.yml", "package version undefined in the package manifest file")
		return false
	}
	ver, err := semver.NewVersion(p.version)
	if err != nil {
		p.addf("manifest.yml", "could not read package version from package manifest file [manifest.yml]: %v", err)
		return false
	}
	p.ver = ver
	fvs := str(m["format_version"])
	fv, err := semver.StrictNewVersion(fvs)
	if err != nil {
		if fvs == "" {
			err = fmt.Errorf("format_version is missing")
		}
		p.addf("manifest.yml", "could not read specification version from package manifest file [%s]: %v", fvs, err)
		return false
	}
	entry, ok := resolveSpecVersion(fv)
	if !ok {
		p.addf("manifest.yml", "could not load specification for version [%s]: spec version %q not found", fvs, fvs)
		return false
	}
	p.fv, p.specEntry = fv, entry
	if rootSpec(p.typ) == nil {
		p.addf("manifest.yml", "could not read root folder spec file: package type %q not supported (supported: integration, input, content)", p.typ)
		return false
	}
	if strings.Contains(entry, "-") && p.isGA() {
		pr := Problem{File: "manifest.yml", Code: "PSR00001",
			Message: fmt.Sprintf("package with GA version (%s) is using an unreleased version of the spec (%s)", p.version, entry)}
		if !p.atLeast("3.0.1") {
			pr.warning = true
			pr.Code = ""
		}
		p.add(pr)
	}
	return true
}

// str renders scalars as strings ("" for nil and non-scalars).
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool, int64, float64, int:
		return fmt.Sprint(x)
	}
	return ""
}

func join(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}

// walk checks the folder dir against spec.
func (p *pkg) walk(dir string, spec *item, inDev bool, limit int) {
	if p.ioErr != nil || p.ctx.Err() != nil {
		return
	}
	if spec.limit > 0 {
		limit = spec.limit
	}
	ents, err := fs.ReadDir(p.fsys, dir)
	if err != nil {
		p.ioFailure("read directory", dir, err)
		return
	}
	if len(ents) > limit {
		p.addf(dir, "folder [%s] exceeds the limit of %d files", dir, limit)
	}
	found := map[*item]bool{}
	for _, e := range ents {
		name := e.Name()
		rel := join(dir, name)
		isLink := !e.IsDir() && strings.HasSuffix(name, ".link")
		logical := name
		if isLink {
			if p.mode == ModeBuild {
				p.addf(rel, ".link files are not allowed in built packages")
				continue
			}
			logical = strings.TrimSuffix(name, ".link")
		}
		it := p.match(spec, logical)
		if it == nil {
			if spec.additional {
				if e.IsDir() && strings.Contains(name, "-") && !inDev {
					p.addf(rel, "directory name inside package %s contains -: %s", p.name, name)
				}
				continue
			}
			p.addf(rel, "item [%s] is not allowed in folder [%s]", name, dir)
			continue
		}
		found[it] = true
		if isLink && !it.allowLink {
			p.addf(rel, "item [%s] is a link but is not allowed", name)
			continue
		}
		if it.dir != e.IsDir() {
			if it.dir {
				p.addf(rel, "[%s] is a file but is expected to be a folder", rel)
			} else {
				p.addf(rel, "[%s] is a folder but is expected to be a file", name)
			}
			continue
		}
		if it.dir {
			if it.dev && p.mode == ModeBuild {
				p.addf(rel, "source-only folder is not allowed in build packages")
				continue
			}
			if it.betaBefore != "" && !p.atLeast(it.betaBefore) {
				p.checkBeta(rel)
			}
			if it.additional && len(it.contents) == 0 {
				continue
			}
			p.walk(rel, it, inDev || it.dev, limit)
			continue
		}
		p.checkFile(join(dir, logical), it, inDev)
	}
	for _, it := range spec.contents {
		if !it.required || found[it] || !p.active(it) {
			continue
		}
		if it.name != "" {
			p.addf(dir, "expecting to find [%s] %s in folder [%s]", it.name, it.kind(), dir)
		} else {
			p.addf(dir, "expecting to find %s matching pattern [%s] in folder [%s]", it.kind(), it.pattern, dir)
		}
	}
}

func (p *pkg) match(spec *item, name string) *item {
	for _, it := range spec.contents {
		if it.name == name && p.active(it) {
			return it
		}
	}
	for _, it := range spec.contents {
		if it.name == "" && p.active(it) && it.matches(name, p.name) {
			return it
		}
	}
	return nil
}

// typeLimits returns (per-file, total) size limits for the package type.
func (p *pkg) typeLimits() (int64, int64) {
	if p.typ == "input" {
		return 30 * mb, 50 * mb
	}
	return 150 * mb, 250 * mb
}

func (p *pkg) checkFile(rel string, it *item, inDev bool) {
	p.files = append(p.files, rel)
	fd, err := p.read(rel)
	if err != nil {
		return
	}
	if fd.err != nil {
		p.addf(rel, "%v", fd.err)
		return
	}
	size := int64(len(fd.data))
	limit, _ := p.typeLimits()
	if it.ct == ctYAML {
		limit = 5 * mb
	}
	if it.sizeLimit > 0 {
		limit = it.sizeLimit
	}
	if size > limit {
		p.addf(rel, "file size (%s) is bigger than expected (%s)", humanSize(size), humanSize(limit))
		return
	}
	if !inDev {
		p.totalSize += size
		if _, total := p.typeLimits(); p.totalSize > total && !p.totalReported {
			p.totalReported = true
			p.addf("", "folder [.] exceeds the total size limit of %s", humanSize(total))
		}
	}
	if it.ct != ctNone && it.ct != ctHBS && size == 0 {
		p.addf(rel, "file is empty, but media type is defined")
		return
	}
	if it.dashes && !startsWithDashes(fd.data) {
		p.addf(rel, "document dashes are required (start the document with '---')")
	}
	switch it.ct {
	case ctYAML, ctJSON:
		p.validateSchemaFile(rel, it, fd)
	}
}

func startsWithDashes(data []byte) bool {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		t := strings.TrimSpace(string(line))
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		return t == "---" || strings.HasPrefix(t, "--- ")
	}
	return false
}

func (p *pkg) validateSchemaFile(rel string, it *item, fd *fileData) {
	var doc any
	var err error
	if it.ct == ctJSON {
		_, _, err = p.parsed(rel)
		doc = fd.value
	} else if !p.atLeast("3.0.0") {
		doc, _, err = decodeYAML(fd.data, true)
	} else {
		_, _, err = p.parsed(rel)
		doc = fd.value
	}
	if err != nil {
		p.addf(rel, "error while parsing file: %v", err)
		return
	}
	if it.schema == "" {
		return
	}
	for _, pr := range p.schemaCheck(it.schema, doc) {
		pr.File = rel
		p.add(pr)
	}
}
