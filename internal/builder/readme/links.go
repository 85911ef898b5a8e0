package readme

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// LinksFileEnv names the environment variable elastic-package reads for the
// links table: a path to a YAML file `links: {KEY: URL, ...}`.
const LinksFileEnv = "ELASTIC_PACKAGE_LINKS_FILE_PATH"

// LinksFileName is the links table looked for at the repository root.
const LinksFileName = "links_table.yml"

// ErrLinkNotFound is returned (wrapped) by the url function for a key the
// links table lacks.
var ErrLinkNotFound = errors.New("link key not found")

type links map[string]string

// linksFile returns the links table's path: explicit, else the variable
// LinksFileEnv (which must then name a file), else REPO/links_table.yml
// when it exists, else "".
func linksFile(explicit, repoRoot string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv(LinksFileEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("links table set with %s does not exist: %s", LinksFileEnv, p)
		}
		return p, nil
	}
	if repoRoot == "" {
		return "", nil
	}
	p := filepath.Join(repoRoot, LinksFileName)
	if _, err := os.Stat(p); err != nil {
		return "", nil
	}
	return p, nil
}

func readLinks(path string) (links, error) {
	if path == "" {
		return links{}, nil
	}
	b, err := readLimited(path, 16<<20)
	if err != nil {
		return nil, fmt.Errorf("links table: %w", err)
	}
	var t struct {
		Links map[string]string `yaml:"links"`
	}
	if err := yaml.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse links table %s: %w", path, err)
	}
	if t.Links == nil {
		t.Links = links{}
	}
	return t.Links, nil
}

// render is the url function: the URL of key, or a Markdown link with the
// caption when one is given.
func (l links) render(args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("url needs a link key")
	}
	u, ok := l[args[0]]
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrLinkNotFound, args[0])
	}
	if len(args) > 1 && args[1] != "" {
		return fmt.Sprintf("[%s](%s)", args[1], u), nil
	}
	return u, nil
}
