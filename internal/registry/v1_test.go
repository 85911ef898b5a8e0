package registry_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// TestV1SampleFleetQueries runs the requests Kibana Fleet sends against the
// 269 v1 revisions and checks each answer against the contract.
func TestV1SampleFleetQueries(t *testing.T) {
	s := v1Store(t)
	r := s.store.URL

	// Fleet 8.x asks for spec 2.3-3.5: every v1 package has
	// format_version 1.0.0, so nothing matches.
	w := get(t, r, "GET", "/search?prerelease=false&kibana.version=8.15.0&capabilities=observability,security&spec.min=2.3&spec.max=3.5", nil)
	if w.Code != 200 || w.Body.String() != "[]" {
		t.Errorf("spec-filtered search = %d %.80q, want 200 []", w.Code, w.Body)
	}

	for _, kv := range []string{"7.16.0", "8.0.0", "8.15.0"} {
		t.Run("kibana "+kv, func(t *testing.T) {
			kibana := semver.MustParse(kv)
			_, list := searchIDs(t, r, "/search?prerelease=false&kibana.version="+kv+"&capabilities=observability,security")
			if len(list) == 0 {
				t.Fatal("no packages")
			}
			seen := map[string]bool{}
			for _, p := range list {
				if seen[p.Name] {
					t.Errorf("%s listed twice without all=true", p.Name)
				}
				seen[p.Name] = true
				var doc struct {
					Conditions struct {
						Kibana struct{ Version string } `json:"kibana"`
					} `json:"conditions"`
					Readme string `json:"readme"`
					Icons  []struct {
						Path string `json:"path"`
					} `json:"icons"`
					Download      string `json:"download"`
					SignaturePath string `json:"signature_path"`
				}
				w := get(t, r, "GET", "/package/"+p.Name+"/"+p.Version+"/", nil)
				if w.Code != 200 {
					t.Fatalf("package info %s@%s: %d", p.Name, p.Version, w.Code)
				}
				if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				if c := doc.Conditions.Kibana.Version; c != "" {
					con, err := semver.NewConstraint(c)
					if err != nil || !con.Check(kibana) {
						t.Errorf("%s@%s: constraint %q does not admit %s", p.Name, p.Version, c, kv)
					}
				}
				if kv != "8.15.0" {
					continue // fetch artifacts once per package
				}
				for _, u := range append([]string{doc.Readme}, pathsOf(doc.Icons)...) {
					if w := get(t, r, "GET", u, nil); w.Code != 200 || w.Body.Len() == 0 {
						t.Errorf("%s: %d", u, w.Code)
					}
				}
				zip := get(t, r, "GET", doc.Download, nil)
				sig := get(t, r, "GET", doc.SignaturePath, nil)
				if zip.Code != 200 || sig.Code != 200 {
					t.Fatalf("%s %d, %s %d", doc.Download, zip.Code, doc.SignaturePath, sig.Code)
				}
				if _, err := s.store.Key.Keyring.Verify(bytes.NewReader(zip.Body.Bytes()), bytes.NewReader(sig.Body.Bytes())); err != nil {
					t.Errorf("%s: signature does not verify: %v", doc.Download, err)
				}
			}
		})
	}

	w = get(t, r, "GET", "/categories?prerelease=false&kibana.version=8.15.0&capabilities=observability,security&include_policy_templates=true", nil)
	var cats []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
		Count int    `json:"count"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &cats); err != nil || len(cats) == 0 {
		t.Fatalf("categories: %v %s", err, w.Body)
	}
	plain := get(t, r, "GET", "/categories?prerelease=false&kibana.version=8.15.0&capabilities=observability,security", nil)
	var plainCats []struct {
		ID    string `json:"id"`
		Count int    `json:"count"`
	}
	json.Unmarshal(plain.Body.Bytes(), &plainCats)
	plainCount := map[string]int{}
	for _, c := range plainCats {
		plainCount[c.ID] = c.Count
	}
	for _, c := range cats {
		if c.Count < plainCount[c.ID] {
			t.Errorf("%s: %d with templates < %d without", c.ID, c.Count, plainCount[c.ID])
		}
	}
}

func pathsOf(imgs []struct {
	Path string `json:"path"`
}) []string {
	var out []string
	for _, i := range imgs {
		out = append(out, i.Path)
	}
	return out
}
