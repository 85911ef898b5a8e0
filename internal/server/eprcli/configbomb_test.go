package eprcli

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestConfigHostileShapes: config.yml is read with YAML 1.1 aliases and
// merge keys (as EPR reads it), so a file of a few hundred bytes can name a
// structure of billions of nodes, and nesting is unbounded in YAML. Within
// MaxConfigSize every such file is refused or read in bounded time.
func TestConfigHostileShapes(t *testing.T) {
	var laughs strings.Builder
	laughs.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&laughs, "a%d: &a%d [*a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d, *a%[3]d]\n", i, i, i-1)
	}
	laughs.WriteString("package_paths: *a11\n")
	merges := "b0: &b0 {k: v}\n"
	for i := 1; i < 12; i++ {
		merges += fmt.Sprintf("b%d: &b%d {<<: [*b%[3]d, *b%[3]d, *b%[3]d, *b%[3]d], k%[1]d: v}\n", i, i, i-1)
	}
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n"
	deepMap := ""
	for i := 0; i < 3000 && len(deepMap) < MaxConfigSize/2; i++ {
		deepMap += strings.Repeat(" ", i) + "k:\n"
	}
	for _, tc := range []struct {
		name, yaml string
		refused    bool
	}{
		{"billion laughs", laughs.String(), true},
		{"merge keys on merge keys", merges, true},
		{"deep flow nesting", deep, true},
		{"deep block nesting", deepMap, true},
		{"many keys", strings.Repeat("cache_time.search: 10s\n", MaxConfigSize/24), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.yaml) > MaxConfigSize {
				t.Fatalf("%d bytes: over MaxConfigSize, not what this tests", len(tc.yaml))
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() { _, _, err := ParseConfig([]byte(tc.yaml)); done <- err }()
			select {
			case err := <-done:
				t.Logf("%d bytes: %v in %s", len(tc.yaml), err, time.Since(start))
				if (err != nil) != tc.refused {
					t.Fatalf("refused: %v, want %v", err, tc.refused)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%d bytes still being read after 20 s", len(tc.yaml))
			}
		})
	}
}
