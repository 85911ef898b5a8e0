package validate

import (
	_ "embed"
	"sync"
)

//go:embed spec/categories.yml
var categoriesYAML []byte

var (
	categoryOnce    sync.Once
	categoryParents map[string]string
)

// categoryParent returns the top-level parent of a category (itself for a
// top-level one) and whether the category is known.
func categoryParent(c string) (string, bool) {
	categoryOnce.Do(func() {
		categoryParents = map[string]string{}
		v, _, err := decodeYAML(categoriesYAML, false)
		if err != nil {
			return
		}
		for parent, kids := range asMap(v) {
			categoryParents[parent] = parent
			for _, k := range asList(kids) {
				categoryParents[asStr(k)] = parent
			}
		}
	})
	p, ok := categoryParents[c]
	return p, ok
}
