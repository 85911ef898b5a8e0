package readme

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ExternalFields resolves the fields a package's fields files mark
// `external` (today only `external: ecs`).
type ExternalFields interface {
	// Inject replaces, in defs (one fields file decoded as a list of
	// mappings), every field marked `external` by its definition from the
	// schema that pkgDir's _dev/build/build.yml names, keeping the
	// `external` key on it (documentation lists external fields even when
	// they are empty groups). It fails when that schema cannot be had
	// (an ECS reference that does not exist), with or without external
	// fields in defs: elastic-package's fields table does.
	Inject(ctx context.Context, pkgDir string, defs []any) ([]any, error)
}

// ErrExternalUnresolved is returned (wrapped) for a field marked
// `external` when no ExternalFields was given.
var ErrExternalUnresolved = errors.New("external field cannot be resolved: no schema source configured")

// maxFieldsFile bounds one fields file: real ones are well below 1 MB.
const maxFieldsFile = 16 << 20

// fieldDef is the part of a field definition the fields table shows, in
// the shape of a fields file.
type fieldDef struct {
	Name        string     `yaml:"name"`
	Description string     `yaml:"description"`
	Type        string     `yaml:"type"`
	Unit        string     `yaml:"unit"`
	MetricType  string     `yaml:"metric_type"`
	External    string     `yaml:"external"`
	Runtime     runtime    `yaml:"runtime"`
	Fields      fieldDefs  `yaml:"fields"`
	MultiFields []fieldDef `yaml:"multi_fields"`
}

// runtime is a field's `runtime` key: true, false, or a script (which
// makes it a runtime field too).
type runtime bool

func (r *runtime) UnmarshalYAML(n *yaml.Node) error {
	var b bool
	if err := n.Decode(&b); err == nil {
		*r = runtime(b)
		return nil
	}
	var script string
	if err := n.Decode(&script); err != nil {
		return fmt.Errorf("line %d: runtime must be a boolean or a script", n.Line)
	}
	*r = script != ""
	return nil
}

// fieldDefs is a `fields` list; ECS-style files write it as a mapping of
// full names, which is accepted too.
type fieldDefs []fieldDef

func (fds *fieldDefs) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case 0:
		*fds = nil
		return nil
	case yaml.SequenceNode:
		var l []fieldDef
		if err := n.Decode(&l); err != nil {
			return err
		}
		*fds = l
		return nil
	case yaml.MappingNode:
		var out []fieldDef
		for i := 0; i+1 < len(n.Content); i += 2 {
			var name string
			if err := n.Content[i].Decode(&name); err != nil {
				return err
			}
			var f fieldDef
			if err := n.Content[i+1].Decode(&f); err != nil {
				return err
			}
			f.Name = name
			// Children named after their parent are nested; others belong
			// at the top (ECS's "base" set).
			var nested, base []fieldDef
			for _, c := range f.Fields {
				if rest, ok := strings.CutPrefix(c.Name, name+"."); ok {
					c.Name = rest
					nested = append(nested, c)
				} else {
					base = append(base, c)
				}
			}
			f.Fields = nested
			out = append(out, base...)
			if len(base) > 0 && len(f.Fields) == 0 {
				continue
			}
			out = append(out, f)
		}
		*fds = out
		return nil
	default:
		return fmt.Errorf("line %d: fields must be a list or a mapping", n.Line)
	}
}

// loadFields reads dir/fields/*.yml (and the linked *.yml.link) in
// lexical order, resolves external fields and leaves out empty groups.
func loadFields(ctx context.Context, pkgDir, dir string, ext ExternalFields) ([]fieldDef, error) {
	files, err := fieldsFiles(dir)
	if err != nil {
		return nil, err
	}
	if ext != nil {
		// The package's dependencies must resolve, whatever the fields.
		if _, err := ext.Inject(ctx, pkgDir, nil); err != nil {
			return nil, err
		}
	}
	var all []fieldDef
	for _, file := range files {
		b, err := readFieldsFile(file)
		if err != nil {
			return nil, err
		}
		var defs []any
		if err := yaml.Unmarshal(b, &defs); err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		for i, d := range defs {
			if _, ok := d.(map[string]any); !ok {
				return nil, fmt.Errorf("%s: field %d is not a mapping", file, i+1)
			}
		}
		if hasExternal(defs) {
			if ext == nil {
				return nil, fmt.Errorf("%s: %w", file, ErrExternalUnresolved)
			}
			defs, err = ext.Inject(ctx, pkgDir, defs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
		}
		defs = dropEmptyGroups(defs)
		// Through YAML again, as elastic-package does: scalars of any kind
		// become the strings the table shows.
		out, err := yaml.Marshal(defs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		var fds fieldDefs
		if err := yaml.Unmarshal(out, &fds); err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		all = append(all, fds...)
	}
	return all, nil
}

func hasExternal(defs []any) bool {
	for _, d := range defs {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		if e, ok := m["external"]; ok && e != nil {
			return true
		}
		if l, ok := m["fields"].([]any); ok && hasExternal(l) {
			return true
		}
	}
	return false
}

// dropEmptyGroups leaves out, at every level, groups without fields that
// are not external: they document nothing.
func dropEmptyGroups(defs []any) []any {
	out := defs[:0:0]
	for _, d := range defs {
		m, ok := d.(map[string]any)
		if !ok {
			out = append(out, d)
			continue
		}
		if l, ok := m["fields"].([]any); ok {
			m["fields"] = dropEmptyGroups(l)
		}
		if isEmptyGroup(m) {
			continue
		}
		out = append(out, m)
	}
	return out
}

func isEmptyGroup(m map[string]any) bool {
	if e, ok := m["external"]; ok && e != nil {
		return false
	}
	if t, _ := m["type"].(string); t != "group" {
		return false
	}
	switch f := m["fields"].(type) {
	case []any:
		return len(f) == 0
	case map[string]any:
		return len(f) == 0
	}
	return true
}

// fieldRow is one row of the fields table.
type fieldRow struct {
	name, description, typ, unit, metricType string
	runtime                                  bool
}

// escaper protects what Markdown and the documentation site would read as
// markup in names and descriptions.
var escaper = strings.NewReplacer("*", "\\*", "{", "\\{", "}", "\\}", "<", "\\<", ">", "\\>")

// renderFields writes the "Exported fields" table of the fields of dir.
func renderFields(ctx context.Context, pkgDir, dir string, ext ExternalFields) (string, error) {
	defs, err := loadFields(ctx, pkgDir, dir, ext)
	if err != nil {
		return "", err
	}
	var rows []fieldRow
	for _, f := range defs {
		rows = collectRows("", f, rows)
	}
	rows = uniqueRows(rows)

	var b strings.Builder
	b.WriteString("**Exported fields**\n\n")
	if len(rows) == 0 {
		b.WriteString("(no fields available)\n")
		return b.String(), nil
	}
	units, metrics := false, false
	for _, r := range rows {
		units = units || r.unit != ""
		metrics = metrics || r.metricType != ""
	}
	b.WriteString("| Field | Description | Type |")
	if units {
		b.WriteString(" Unit |")
	}
	if metrics {
		b.WriteString(" Metric Type |")
	}
	b.WriteString("\n|---|---|---|")
	if units {
		b.WriteString("---|")
	}
	if metrics {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		desc := strings.TrimSpace(strings.ReplaceAll(r.description, "\n", " "))
		typ := r.typ
		if r.runtime {
			typ += " (runtime)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |", escaper.Replace(r.name), escaper.Replace(desc), typ)
		if units {
			fmt.Fprintf(&b, " %s |", r.unit)
		}
		if metrics {
			fmt.Fprintf(&b, " %s |", r.metricType)
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

// collectRows flattens f below prefix: a field without children (other
// than a group) or an external one is a row, followed by its multi-fields.
func collectRows(prefix string, f fieldDef, rows []fieldRow) []fieldRow {
	name := f.Name
	if prefix != "" {
		name = prefix + "." + f.Name
	}
	if (len(f.Fields) == 0 && f.Type != "group") || f.External != "" {
		rows = append(rows, fieldRow{
			name: name, description: f.Description, typ: f.Type,
			unit: f.Unit, metricType: f.MetricType, runtime: bool(f.Runtime),
		})
		for _, mf := range f.MultiFields {
			rows = append(rows, fieldRow{
				name:        name + "." + mf.Name,
				description: fmt.Sprintf("Multi-field of %#q.", name),
				typ:         mf.Type,
			})
		}
		return rows
	}
	for _, c := range f.Fields {
		rows = collectRows(name, c, rows)
	}
	return rows
}

// uniqueRows sorts rows by name and keeps the first row of each name
// after sorting. The sort is the one elastic-package does (sort.Slice, not
// stable, with "less or equal"), so that with the same input the same
// duplicate is kept (in short lists, the last one defined).
func uniqueRows(rows []fieldRow) []fieldRow {
	sort.Slice(rows, func(i, j int) bool { return rows[i].name <= rows[j].name })
	seen := make(map[string]bool, len(rows))
	var out []fieldRow
	for _, r := range rows {
		if !seen[r.name] {
			seen[r.name] = true
			out = append(out, r)
		}
	}
	return out
}

// readLimited reads a whole file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}

// fieldsFiles lists dir/fields/*.yml and dir/fields/*.yml.link (linked
// files, as the built package will hold them: the shared ECS field lists
// of a repository are often linked) in the order of their names in the
// built package.
func fieldsFiles(dir string) ([]string, error) {
	var files []string
	for _, pat := range []string{"*.yml", "*.yml.link"} {
		m, err := filepath.Glob(filepath.Join(dir, "fields", pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Slice(files, func(i, j int) bool {
		return strings.TrimSuffix(files[i], ".link") < strings.TrimSuffix(files[j], ".link")
	})
	return files, nil
}

// readFieldsFile reads a fields file, or the target of a linked one
// (NAME.link: "<path relative to the link's folder> <sha256 hex>", the
// checksum checked as the build checks it).
func readFieldsFile(file string) ([]byte, error) {
	if !strings.HasSuffix(file, ".link") {
		return readLimited(file, maxFieldsFile)
	}
	b, err := readLimited(file, 64<<10)
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	parts := strings.Fields(line)
	if len(parts) != 2 {
		return nil, fmt.Errorf("%s: first line must be \"<relative path> <sha256>\", got %q", file, line)
	}
	if filepath.IsAbs(parts[0]) {
		return nil, fmt.Errorf("%s: link target %q must be a relative path", file, parts[0])
	}
	target := filepath.Join(filepath.Dir(file), filepath.FromSlash(parts[0]))
	content, err := readLimited(target, maxFieldsFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	sum := sha256.Sum256(content)
	if got := hex.EncodeToString(sum[:]); got != strings.ToLower(parts[1]) {
		return nil, fmt.Errorf("%s: linked file checksum mismatch: the link says %s, %s has %s", file, parts[1], parts[0], got)
	}
	return content, nil
}
