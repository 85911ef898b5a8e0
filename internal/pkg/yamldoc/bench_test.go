package yamldoc_test

import (
	"bytes"
	"fmt"
	"testing"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/pkg/yamldoc"
)

// BenchmarkParse: what the merge check adds to yaml.v3's parse, on a
// fields.yml-shaped document of 2,000 fields without merge keys (the
// common case) and with one merge per field.
func BenchmarkParse(b *testing.B) {
	for _, merges := range []bool{false, true} {
		var doc bytes.Buffer
		if merges {
			doc.WriteString("- &base {type: keyword, ignore_above: 1024}\n")
		}
		for i := range 2000 {
			fmt.Fprintf(&doc, "- name: field_%d\n  description: A field of the test document, number %d.\n", i, i)
			if merges {
				doc.WriteString("  <<: *base\n")
			} else {
				doc.WriteString("  type: keyword\n")
			}
		}
		data := doc.Bytes()
		b.Run(fmt.Sprintf("merges=%v/yaml.v3", merges), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var n yaml.Node
				if err := yaml.Unmarshal(data, &n); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("merges=%v/yamldoc", merges), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := yamldoc.Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
