package catalog

import (
	"bytes"
	"encoding/json"
	"net/url"
	"testing"
	"testing/iotest"

	"pkgstore/internal/publish/index"
)

// FuzzQuery parses arbitrary /search and /categories query strings and
// runs them on a small catalog: every refusal is a bad-query error (a 400),
// never a panic, and every accepted query renders valid JSON.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{
		"prerelease=false&kibana.version=8.15.0&capabilities=observability,security&spec.min=2.3&spec.max=3.5",
		"package=aws&all=true&type=integration&category=security",
		"kibana.version=x", "spec.min=3&spec.max=2", "discovery=fields:event.dataset", "include_policy_templates=true&experimental=true",
		"prerelease=%zz", "a=1&a=2&;;&=",
	} {
		f.Add(q)
	}
	c := func() *Catalog {
		b := NewBuilder("1", 3)
		for _, e := range []struct{ n, v, extra string }{
			{"aws", "2.0.0", `,"categories":["security"],"conditions":{"kibana":{"version":"^8.0.0"}}`},
			{"aws", "2.1.0-beta1", ""},
			{"nginx", "1.5.0", `,"policy_templates":[{"name":"n","title":"t","categories":["web"]}]`},
		} {
			r, err := NewRevision(doc(e.n, e.v, e.extra))
			if err != nil {
				f.Fatal(err)
			}
			b.Add(r)
		}
		c, err := b.Finish()
		if err != nil {
			f.Fatal(err)
		}
		return c
	}()
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // net/http would hand the handler what it could parse; so does the registry
		}
		for _, allow := range []bool{false, true} {
			if sf, err := ParseSearch(q, allow); err != nil {
				if !IsBadQuery(err) {
					t.Fatalf("ParseSearch(%q): %v is not a bad query", raw, err)
				}
			} else if out, err := c.SearchJSON(sf); err == nil && !json.Valid(out) {
				t.Fatalf("SearchJSON(%q) = invalid JSON %.200q", raw, out)
			}
			if cq, err := ParseCategories(q, allow); err != nil {
				if !IsBadQuery(err) {
					t.Fatalf("ParseCategories(%q): %v is not a bad query", raw, err)
				}
			} else if out, err := c.CategoriesJSON(cq); err == nil && !json.Valid(out) {
				t.Fatalf("CategoriesJSON(%q) = invalid JSON %.200q", raw, out)
			}
		}
	})
}

// FuzzLoadIndex feeds arbitrary bytes to the index loader (the scanner that
// cuts out package_manifest members, then the parallel parse): it must not
// panic, reading byte by byte must give the same result, and an index it
// loads must be one encoding/json accepts.
func FuzzLoadIndex(f *testing.F) {
	f.Add([]byte(`{"packages":[{"package_manifest":{"name":"a","version":"1.0.0","description":"d","type":"integration","download":"x","path":"y","format_version":"3.0.0"}}]}`))
	f.Add([]byte(`{"x":[1,{"a":"}"}],"packages":[{"package_manifest":{"name":"a\"}","v":[1,2]}},{"other":1,"package_manifest":{}}],"y":null}`))
	f.Add([]byte(`{"packages":[{"package_manifest":{"a":1}`))
	f.Add([]byte(` { "packages" : [ ] } `))
	f.Add([]byte(`{"packages":[{"package_manifest":"\ud800"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var whole, bytewise []string
		err1 := index.ScanAll(bytes.NewReader(in), func(b []byte) error {
			whole = append(whole, string(b))
			return nil
		})
		err2 := index.ScanAll(iotest.OneByteReader(bytes.NewReader(in)), func(b []byte) error {
			bytewise = append(bytewise, string(b))
			return nil
		})
		if (err1 == nil) != (err2 == nil) || len(whole) != len(bytewise) {
			t.Fatalf("buffering changes the result: %v/%d vs %v/%d", err1, len(whole), err2, len(bytewise))
		}
		revs, err := parseParallel(t.Context(), bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(revs) != len(whole) {
			t.Fatalf("%d revisions from %d manifests", len(revs), len(whole))
		}
		// What follows the index object is ignored, as json.Decoder (and
		// so EPR's loader and index.ReadAll) ignores it; the object itself
		// (manifests checked by their parser, the rest by the scanner)
		// must be valid JSON.
		var first json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(in)).Decode(&first); err != nil {
			t.Fatalf("loaded an index that is not JSON (%v): %.200q", err, in)
		}
	})
}
