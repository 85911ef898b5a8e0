package catalog

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path"
	"pkgstore/internal/testkit/sharedtest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/klauspost/compress/s2"

	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// v1Documents builds the package documents of the v1 sample
// (../shared/testdata/v1-sample.tar.gz next to the module root), as the
// indexer stores them: compacted. It skips the test when the sample is
// not there.
func v1Documents(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open(sharedtest.Archive(t, sharedtest.V1Sample))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	revs := map[string]fstest.MapFS{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.SplitN(strings.TrimPrefix(path.Clean(h.Name), "./"), "/", 4)
		if h.Typeflag != tar.TypeReg || len(parts) < 4 || parts[0] != "packages" {
			continue
		}
		key := parts[1] + "-" + parts[2]
		if revs[key] == nil {
			revs[key] = fstest.MapFS{}
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		revs[key][parts[3]] = &fstest.MapFile{Data: data}
	}
	keys := make([]string, 0, len(revs))
	for k := range revs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var docs [][]byte
	for _, k := range keys {
		var order []string
		for p := range revs[k] {
			order = append(order, p)
		}
		sort.Strings(order)
		p, err := packagedoc.Build(revs[k], packagedoc.Options{Signed: true, FileOrder: order})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		data, err := packagedoc.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, buf.Bytes())
	}
	if len(docs) < 100 {
		t.Fatalf("only %d documents in the v1 sample", len(docs))
	}
	return docs
}

// referenceRevision is the previous way of parsing a document: the whole
// document through encoding/json.
func referenceRevision(t *testing.T, doc []byte) *Revision {
	t.Helper()
	var d docFields
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	bufs := &buffers{}
	r, err := newRevision(packageid.ID{Name: d.Name, Version: d.Version}, &d, bufs)
	if err != nil {
		t.Fatal(err)
	}
	if r.base, err = renderBase(&d.BasePackage); err != nil {
		t.Fatal(err)
	}
	r.doc = s2.Encode(nil, doc)
	return r
}

// TestLoadMatchesReference loads the v1 sample (compact and indented) and
// checks every revision, every /search form, every document and a set of
// searches against a catalog built the previous way.
func TestLoadMatchesReference(t *testing.T) {
	docs := v1Documents(t)
	for _, indented := range []bool{false, true} {
		var file bytes.Buffer
		file.WriteString(`{"packages":[`)
		ref := NewBuilder("1", len(docs))
		for i, d := range docs {
			if indented {
				var buf bytes.Buffer
				json.Indent(&buf, d, "", "  ")
				d = buf.Bytes()
			}
			if i > 0 {
				file.WriteByte(',')
			}
			file.WriteString("\n{\"package_manifest\":")
			file.Write(d)
			file.WriteByte('}')
			ref.Add(referenceRevision(t, d))
		}
		file.WriteString("\n]}\n")
		want, err := ref.Finish()
		if err != nil {
			t.Fatal(err)
		}

		ctx := context.Background()
		b, err := storage.OpenURL(ctx, "mem://")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.WriteAll(ctx, storage.IndexAllKey("1"), file.Bytes(), nil); err != nil {
			t.Fatal(err)
		}
		got, err := Load(ctx, b, "1")
		if err != nil {
			t.Fatal(err)
		}

		if got.Len() != want.Len() {
			t.Fatalf("indented=%v: %d revisions, want %d", indented, got.Len(), want.Len())
		}
		for i, w := range want.revs {
			g := got.revs[i]
			// The compressed bytes depend on the dictionary a load
			// shares between versions; the documents are compared below.
			gc, wc := *g, *w
			gc.doc, gc.dict, wc.doc, wc.dict = nil, nil, nil, nil
			if !reflect.DeepEqual(&gc, &wc) {
				t.Errorf("indented=%v: revision %s differs:\n got %+v\nwant %+v", indented, w.ID, g, w)
				continue
			}
			gd, err1 := got.Document(g)
			wd, err2 := want.Document(w)
			if err1 != nil || err2 != nil || !bytes.Equal(gd, wd) {
				t.Errorf("indented=%v: document %s differs (%v, %v)", indented, w.ID, err1, err2)
			}
		}
		if !reflect.DeepEqual(got.deprecation, want.deprecation) {
			t.Errorf("indented=%v: propagated deprecations differ", indented)
		}
		for _, q := range []string{
			"all=true&prerelease=true", "", "kibana.version=8.15.0&capabilities=observability,security&spec.min=2.3&spec.max=3.5",
			"prerelease=true&kibana.version=7.16.0&category=security", "experimental=true&all=true", "discovery=fields:event.dataset",
		} {
			v, _ := url.ParseQuery(q)
			f, err := ParseSearch(v, false)
			if err != nil {
				t.Fatal(err)
			}
			gs, err1 := got.SearchJSON(f)
			ws, err2 := want.SearchJSON(f)
			if err1 != nil || err2 != nil || !bytes.Equal(gs, ws) {
				t.Errorf("indented=%v: /search?%s differs (%v, %v)", indented, q, err1, err2)
			}
		}
	}
}

// pruneCases are documents whose decoding must not depend on the path
// taken: case-folded, escaped and non-ASCII keys, duplicates, type errors,
// invalid JSON in dropped and in kept members, and non-objects.
var pruneCases = []string{
	`{"name":"a","version":"1.0.0","assets":["x"],"vars":[{"name":"v","default":{"a":[1,2]}}]}`,
	`{"NAME":"a","Version":"1.0.0","Policy_Templates":[{"name":"t","Categories":["web"],"inputs":[{"type":"x"}]}]}`,
	`{"na\u006de":"a","version":"1.0.0","\u0064ata_streams":[{"dataset":"d","streams":[]}]}`,
	"{\"name\":\"a\",\"version\":\"1.0.0\",\"conditions\":{\"\u212aibana\":{\"version\":\"^8.0.0\"}}}",
	"{\"name\":\"a\",\"version\":\"1.0.0\",\"conditions\":{\"\xe2\x84\xaaibana\":{\"version\":\"^8.0.0\"}}}",
	`{"name":"a","version":"1.0.0","name":"b","conditions":{"kibana":{"version":"^7"}},"conditions":{"elastic":{"capabilities":["x"]}}}`,
	`{"name":"a","version":"1.0.0","policy_templates":[{"name":"t"}],"policy_templates":null}`,
	`{"name":5,"version":"1.0.0"}`,
	`{"name":"a","version":"1.0.0","policy_templates":[{"name":"t","title":1,"inputs":[1 2]}]}`,
	`{"name":"a","version":"1.0.0","policy_templates":{"name":"t"}}`,
	`{"name":"a","version":"1.0.0","policy_templates":[1,"x",null,{"deployment_modes":{"b":1, "a" : [ ]}}]}`,
	`{"name":"a","version":"1.0.0","data_streams":[{"type":"logs","dataset":"d","title":"T","elasticsearch":{"x":1e5,"y":-0.5E-3}}]}`,
	`{"name":"a","version":"1.0.0","assets":[1 2]}`,
	`{"name":"a","version":"1.0.0","vars":tru}`,
	`{"name":"a","version":"1.0.0","readme":"bad \x01 control"}`,
	`{"name":"a","version":"1.0.0","readme":"bad \q escape"}`,
	`{"name":"a","version":"1.0.0","readme":"\u12"}`,
	`{"name":"a","version":"1.0.0","x":01}`,
	`{"name":"a","version":"1.0.0","x":-}`,
	`{"name":"a","version":"1.0.0","x":1.}`,
	`{"name":"a","version":"1.0.0","x":1e}`,
	`{"name":"a","version":"1.0.0",}`,
	`{"name":"a","version":"1.0.0","x":[1,]}`,
	`{"name":"a","version":"1.0.0"} x`,
	`{"name":"a","version":"1.0.0"}{}`,
	" \n{\"name\":\"a\",\"version\":\"1.0.0\"}\n ",
	`{"name":"a","version":"1.0.0","title":"\ud83d\ude00 \"q\" \\ \/"}`,
	"{\"name\":\"a\",\"version\":\"1.0.0\",\"title\":\"\xff\xfe\"}",
	`{"name":"a","version":"1.0.0","x":` + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + `}`,
	`[]`, `null`, `"x"`, `{}`, `{`, ``, `{"name":`,
}

// slowFields is the plain decoder, the fallback of decodeFields for valid
// documents the fast path cannot decode (its errors are kept).
func slowFields(doc []byte) (docFields, error) {
	var d docFields
	err := json.Unmarshal(doc, &d)
	return d, err
}

func TestDecodeFieldsMatchesPreviousDecoder(t *testing.T) {
	for _, doc := range pruneCases {
		checkDecodeFields(t, []byte(doc))
	}
	// Valid documents take the fast path.
	for _, doc := range pruneCases[:7] {
		if _, ok := prune([]byte(doc), nil); !ok {
			t.Errorf("%s: prune refused a valid document", doc)
		}
	}
}

func checkDecodeFields(t *testing.T, doc []byte) {
	t.Helper()
	var got docFields
	gotErr := decodeFields(doc, &got, &buffers{})
	if !json.Valid(doc) {
		// EPR's decoder refuses the document (and so the index), even
		// when what is wrong is a member we do not read: so must we, with
		// encoding/json's own error.
		var full docFields
		wantErr := json.Unmarshal(doc, &full)
		if gotErr == nil || gotErr.Error() != wantErr.Error() {
			t.Fatalf("%q: error %v, want %v", doc, gotErr, wantErr)
		}
		return
	}
	want, wantErr := slowFields(doc)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("%q: error %v, want %v", doc, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", doc, got, want)
	}
	if json.Valid(doc) {
		var full docFields
		fullErr := json.Unmarshal(doc, &full)
		if (fullErr == nil) != (gotErr == nil) || !reflect.DeepEqual(got, full) {
			t.Fatalf("%q: differs from decoding the whole document: %v %+v", doc, fullErr, full)
		}
	}
}

func FuzzDecodeFields(f *testing.F) {
	for _, doc := range pruneCases {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkDecodeFields(t, doc)
	})
}

func TestShapeOfDocFields(t *testing.T) {
	for _, tc := range []struct {
		key  string
		keep bool
	}{
		{"name", true}, {"NaMe", true}, {"format_version", true}, {"policy_templates", true},
		{"assets", false}, {"vars", false}, {"readme", false}, {"x", false},
		{`na\u006de`, true}, {"\xe2\x84\xaa", true}, {strings.Repeat("a", 100), false},
	} {
		if keep, _ := docShape.lookup([]byte(tc.key)); keep != tc.keep {
			t.Errorf("%q: keep %v, want %v", tc.key, keep, tc.keep)
		}
	}
	_, pt := docShape.lookup([]byte("policy_templates"))
	if pt == nil || pt.elem == nil {
		t.Fatal("policy_templates is not pruned per element")
	}
	if keep, _ := pt.elem.lookup([]byte("inputs")); keep {
		t.Error("policy template inputs are kept")
	}
	keep, dm := pt.elem.lookup([]byte("deployment_modes"))
	if !keep || dm == nil {
		t.Fatal("deployment_modes is not kept as an object")
	}
	if keep, _ := dm.lookup([]byte("agentless")); !keep {
		t.Error("deployment_modes.agentless is dropped")
	}
	if keep, _ := dm.lookup([]byte("resources")); keep {
		t.Error("deployment_modes keeps a key the document type does not have")
	}
}
