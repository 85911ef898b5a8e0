package readme

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
)

// maxAssetFile bounds one JSON or YAML asset read for documentation.
const maxAssetFile = 64 << 20

// flatten writes nested maps and lists into flat as dotted keys (list
// items by index) with values printed by fmt's %v.
func flatten(prefix string, nested map[string]any, flat map[string]string) {
	for k, v := range nested {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch c := v.(type) {
		case map[string]any:
			flatten(key, c, flat)
		case []any:
			for i, item := range c {
				ik := fmt.Sprintf("%s.%d", key, i)
				if m, ok := item.(map[string]any); ok {
					flatten(ik, m, flat)
				} else {
					flat[ik] = fmt.Sprintf("%v", item)
				}
			}
		default:
			flat[key] = fmt.Sprintf("%v", v)
		}
	}
}

// renderILM tables, for each data stream with an elasticsearch/ilm folder,
// its default_policy.json flattened.
func renderILM(pkgDir string) (string, error) {
	dirs, err := filepath.Glob(filepath.Join(pkgDir, "data_stream", "*", "elasticsearch", "ilm"))
	if err != nil {
		return "", err
	}
	if len(dirs) == 0 {
		return "", nil
	}
	names := make([]string, 0, len(dirs))
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(filepath.Dir(d))))
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("\n### Data streams using ILM policies\n")
	for _, n := range names {
		p := filepath.Join(pkgDir, "data_stream", n, "elasticsearch", "ilm", "default_policy.json")
		raw, err := readLimited(p, maxAssetFile)
		if err != nil {
			return "", fmt.Errorf("ILM policy of data stream %s: %w", n, err)
		}
		var policy map[string]any
		if err := json.Unmarshal(raw, &policy); err != nil {
			return "", fmt.Errorf("ILM policy %s: %w", p, err)
		}
		flat := map[string]string{}
		flatten("", policy, flat)
		fmt.Fprintf(&b, "\n#### %s Policy\n", n)
		b.WriteString("| Key | Value |\n|---|---|\n")
		keys := make([]string, 0, len(flat))
		for k := range flat {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "| %s | %s |\n", k, flat[k])
		}
	}
	return b.String(), nil
}

// renderTransforms documents the package's transforms
// (elasticsearch/transform/NAME/transform.yml), by name: description,
// source and destination index, and the transform's fields table.
func renderTransforms(ctx context.Context, pkgDir string, ext ExternalFields) (string, error) {
	root := filepath.Join(pkgDir, "elasticsearch", "transform")
	fi, err := os.Stat(root)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a folder", root)
	}
	type transform struct {
		name, dir string
		flat      map[string]string
	}
	byName := map[string]transform{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "transform.yml" {
			return nil
		}
		raw, err := readLimited(p, maxAssetFile)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("parse %s: %w", p, err)
		}
		flat := map[string]string{}
		flatten("", m, flat)
		dir := filepath.Dir(p)
		byName[filepath.Base(dir)] = transform{name: filepath.Base(dir), dir: dir, flat: flat}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find transforms: %w", err)
	}
	if len(byName) == 0 {
		return "", nil
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	first := func(flat map[string]string, keys ...string) string {
		for _, k := range keys {
			if v, ok := flat[k]; ok {
				return v
			}
		}
		return ""
	}
	var b strings.Builder
	b.WriteString("\n### Transforms used\n")
	for _, n := range names {
		t := byName[n]
		fmt.Fprintf(&b, "\n#### %s\n", t.name)
		fmt.Fprintf(&b, "* Description: %s\n", escaper.Replace(t.flat["description"]))
		fmt.Fprintf(&b, "* Source Index: %s\n", escaper.Replace(first(t.flat, "source.index", "source.index.0")))
		fmt.Fprintf(&b, "* Destination Index: %s\n\n", escaper.Replace(first(t.flat, "dest.index", "dest.index.0")))
		table, err := renderFields(ctx, pkgDir, t.dir, ext)
		if err != nil {
			return "", fmt.Errorf("transform %s: %w", t.name, err)
		}
		b.WriteString(table)
	}
	return b.String(), nil
}

// kibanaTemplate is the part of an alerting rule or SLO template shown.
type kibanaTemplate struct {
	Attributes struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"attributes"`
}

// kibanaTemplates reads kibana/KIND/*.json (not below), in name order.
// found is false when the folder does not exist.
func kibanaTemplates(pkgDir, kind string) (ts []kibanaTemplate, found bool, err error) {
	dir := filepath.Join(pkgDir, "kibana", kind)
	des, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	for _, de := range des {
		if de.IsDir() || filepath.Ext(de.Name()) != ".json" {
			continue
		}
		p := filepath.Join(dir, de.Name())
		raw, err := readLimited(p, maxAssetFile)
		if err != nil {
			return nil, true, err
		}
		var t kibanaTemplate
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, true, fmt.Errorf("parse %s: %w", p, err)
		}
		ts = append(ts, t)
	}
	return ts, true, nil
}

// collapsibleAlertsFrom is the first format_version whose alert rule
// templates are listed as a collapsible table rather than a list.
var collapsibleAlertsFrom = semver.MustParse("3.6.0")

func renderAlertRuleTemplates(pkgDir string, l links) (string, error) {
	v, err := formatVersion(pkgDir)
	if err != nil {
		return "", err
	}
	ts, _, err := kibanaTemplates(pkgDir, "alerting_rule_template")
	if err != nil {
		return "", fmt.Errorf("alert rule templates: %w", err)
	}
	if len(ts) == 0 {
		return "", nil
	}
	var b strings.Builder
	b.WriteString("Alert rule templates provide pre-defined configurations for creating alert rules in Kibana.\n\n")
	fmt.Fprintf(&b, "For more information, refer to the [Elastic documentation](%s).\n\n", l.urlOr("alert-rule-templates", "https://www.elastic.co/docs"))
	b.WriteString("Alert rule templates require Elastic Stack version 9.2.0 or later.\n\n")
	if v.LessThan(collapsibleAlertsFrom) {
		b.WriteString("The following alert rule templates are available:\n\n")
		for _, t := range ts {
			fmt.Fprintf(&b, "**%s**\n\n%s\n\n", t.Attributes.Name, t.Attributes.Description)
		}
		return b.String(), nil
	}
	writeTemplateDetails(&b, "alert rule templates", ts)
	return b.String(), nil
}

func renderSLOTemplates(pkgDir string, l links) (string, error) {
	ts, _, err := kibanaTemplates(pkgDir, "slo_template")
	if err != nil {
		return "", fmt.Errorf("SLO templates: %w", err)
	}
	if len(ts) == 0 {
		return "", nil
	}
	var b strings.Builder
	b.WriteString("SLO templates provide pre-defined configurations for creating SLOs in Kibana.\n\n")
	fmt.Fprintf(&b, "For more information, refer to the [Elastic documentation](%s).\n\n", l.urlOr("slo-templates", "https://www.elastic.co/docs"))
	b.WriteString("SLO templates require Elastic Stack version 9.4.0 or later.\n\n")
	writeTemplateDetails(&b, "SLO templates", ts)
	return b.String(), nil
}

// writeTemplateDetails lists ts (what: "SLO templates") as a table in a
// collapsible block, as elastic-package does.
func writeTemplateDetails(b *strings.Builder, what string, ts []kibanaTemplate) {
	fmt.Fprintf(b, "**The following %s are available:**\n\n", what)
	fmt.Fprintf(b, "<details>\n<summary>View the %s</summary>\n\n", what)
	b.WriteString("| Name | Description |\n|---|---|\n")
	for _, t := range ts {
		name := strings.TrimSpace(t.Attributes.Name)
		desc := strings.TrimSpace(strings.ReplaceAll(t.Attributes.Description, "\n", " "))
		fmt.Fprintf(b, "| %s | %s |\n", escaper.Replace(name), escaper.Replace(desc))
	}
	b.WriteString("\n</details>\n\n")
}

func (l links) urlOr(key, fallback string) string {
	if u, ok := l[key]; ok {
		return u
	}
	return fallback
}
