package readme

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
)

const sampleEventFile = "sample_event.json"

// maxSampleEvent bounds a sample event file.
const maxSampleEvent = 16 << 20

// htmlEscapingBefore is the first format_version whose sample events are
// shown as written; older packages get Go's HTML-escaping re-encoding
// (<, > and & as \u003c, \u003e, \u0026), as elastic-package does.
var htmlEscapingBefore = semver.MustParse("2.12.0")

// renderEvent shows the sample event of the data stream (or of the package
// when dataStream is ""): sample_event.json, else the first
// sample_event_*.json by name.
func renderEvent(pkgDir, dataStream string) (string, error) {
	dir := pkgDir
	if dataStream != "" {
		dir = filepath.Join(pkgDir, "data_stream", dataStream)
	}
	path, err := sampleEventPath(dir)
	if err != nil {
		return "", err
	}
	body, err := readLimited(path, maxSampleEvent)
	if err != nil {
		return "", fmt.Errorf("read sample event: %w", err)
	}
	v, err := formatVersion(pkgDir)
	if err != nil {
		return "", err
	}
	var formatted []byte
	if v.LessThan(htmlEscapingBefore) {
		var raw json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return "", fmt.Errorf("sample event %s: %w", path, err)
		}
		formatted, err = json.MarshalIndent(&raw, "", "    ")
		if err != nil {
			return "", fmt.Errorf("sample event %s: %w", path, err)
		}
	} else {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "    "); err != nil {
			return "", fmt.Errorf("sample event %s: %w", path, err)
		}
		formatted = buf.Bytes()
	}
	var b strings.Builder
	if dataStream == "" {
		b.WriteString("An example event looks as following:\n\n")
	} else {
		fmt.Fprintf(&b, "An example event for `%s` looks as following:\n\n", eventName(dataStream))
	}
	b.WriteString("```json\n")
	b.Write(bytes.TrimSpace(formatted))
	b.WriteString("\n```")
	return b.String(), nil
}

func sampleEventPath(dir string) (string, error) {
	plain := filepath.Join(dir, sampleEventFile)
	if fi, err := os.Stat(plain); err == nil && !fi.IsDir() {
		return plain, nil
	}
	matches, err := filepath.Glob(filepath.Join(dir, "sample_event_*.json"))
	if err != nil {
		return "", err
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("no sample event in %s (looked for %s and sample_event_*.json): %w", dir, sampleEventFile, os.ErrNotExist)
	}
	sort.Slice(matches, func(i, j int) bool { return filepath.Base(matches[i]) < filepath.Base(matches[j]) })
	return matches[0], nil
}

// eventName is how a data stream folder is named in the event's title:
// without "_metrics" and "_logs" (anywhere in the name).
func eventName(dataStream string) string {
	dataStream = strings.ReplaceAll(dataStream, "_metrics", "")
	return strings.ReplaceAll(dataStream, "_logs", "")
}

// formatVersion reads the package's manifest.yml format_version.
func formatVersion(pkgDir string) (*semver.Version, error) {
	b, err := readLimited(filepath.Join(pkgDir, "manifest.yml"), 4<<20)
	if err != nil {
		return nil, fmt.Errorf("read package manifest: %w", err)
	}
	var m struct {
		FormatVersion string `yaml:"format_version"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse package manifest: %w", err)
	}
	v, err := semver.NewVersion(m.FormatVersion)
	if err != nil {
		return nil, fmt.Errorf("manifest.yml: format_version %q: %w", m.FormatVersion, err)
	}
	return v, nil
}
