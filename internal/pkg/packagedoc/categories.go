package packagedoc

import (
	_ "embed"
	"fmt"

	"go.yaml.in/yaml/v3"
)

//go:embed categories.yml
var categoriesYAML []byte

// Category is one entry of the category catalogue.
type Category struct {
	ID          string
	Title       string
	ParentID    string // empty for top-level categories
	ParentTitle string
}

var categories = mustLoadCategories()

func mustLoadCategories() map[string]Category {
	m, err := parseCategories(categoriesYAML)
	if err != nil {
		// The file is embedded at build time; a parse failure is a
		// programming error caught by every test of this package.
		panic(err)
	}
	return m
}

func parseCategories(data []byte) (map[string]Category, error) {
	var raw map[string]struct {
		Title         string            `yaml:"title"`
		Subcategories map[string]string `yaml:"subcategories"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse categories.yml: %w", err)
	}
	out := make(map[string]Category)
	for id, c := range raw {
		out[id] = Category{ID: id, Title: c.Title}
		for sub, title := range c.Subcategories {
			out[sub] = Category{ID: sub, Title: title, ParentID: id, ParentTitle: c.Title}
		}
	}
	return out, nil
}

// LookupCategory returns the catalogue entry of id.
func LookupCategory(id string) (Category, bool) {
	c, ok := categories[id]
	return c, ok
}
