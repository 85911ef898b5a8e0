package catalog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/s2"

	"pkgstore/internal/storage"
)

// variedIndex returns a search-index-all.json of n revisions over a few
// names with everything the catalog keeps: constraints, capabilities,
// categories, policy templates, discovery, spec versions, prereleases,
// deprecation notices (own and propagated), documents large enough for
// the per-package dictionaries (some over their 64 KiB), and a duplicate
// NAME-VERSION.
func variedIndex(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	b.WriteString(`{"packages":[`)
	names := []string{"aws", "nginx", "system", "tiny", "okta"}
	for i := range n {
		name := names[rng.IntN(len(names))]
		ver := fmt.Sprintf("%d.%d.%d", rng.IntN(3), rng.IntN(20), i)
		if rng.IntN(5) == 0 {
			ver += "-beta1"
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"package_manifest":{"name":%q,"title":"T %s","version":%q,"release":"ga","description":"%s","type":"integration","download":"/epr/%s/%s-%s.zip","path":"/package/%s/%s","format_version":"%d.%d.0"`,
			name, name, ver, strings.Repeat("words of a description ", 1+rng.IntN(40)), name, name, ver, name, ver, 1+rng.IntN(3), rng.IntN(4))
		if rng.IntN(3) > 0 {
			fmt.Fprintf(&b, `,"conditions":{"kibana":{"version":"^8.%d.0"}`, rng.IntN(16))
			if rng.IntN(2) == 0 {
				fmt.Fprintf(&b, `,"agent":{"version":">= 8.%d.0"}`, rng.IntN(16))
			}
			if rng.IntN(3) == 0 {
				b.WriteString(`,"elastic":{"capabilities":["observability","security"]}`)
			}
			b.WriteByte('}')
		}
		if rng.IntN(4) > 0 {
			fmt.Fprintf(&b, `,"categories":["security","cat%d"]`, rng.IntN(4))
		} else if rng.IntN(2) == 0 {
			b.WriteString(`,"categories":[]`)
		}
		if rng.IntN(2) == 0 {
			fmt.Fprintf(&b, `,"policy_templates":[{"name":"pt%d","title":"t","description":"d","categories":["web"]},{"name":"only","title":"t","description":"d"}]`, rng.IntN(3))
		}
		if rng.IntN(4) == 0 {
			b.WriteString(`,"discovery":{"fields":[{"name":"event.dataset"},{"name":"host.name"}],"datasets":[{"name":"x.y"}]}`)
		}
		if rng.IntN(10) == 0 {
			fmt.Fprintf(&b, `,"deprecated":{"description":"gone %d","since":"%s"}`, i, ver)
		}
		assets := 10 + rng.IntN(200)
		if name == "okta" {
			assets += 3000 // over 64 KiB: dictionaries of the largest size
		}
		fmt.Fprintf(&b, `,"owner":{"github":"elastic/x","type":"elastic"},"assets":%q}}`, strings.Repeat("kibana/dashboard/x.json ", assets))
	}
	// A duplicate: the first of a NAME-VERSION wins.
	b.WriteString(`,{"package_manifest":{"name":"dup","version":"1.0.0","description":"first","type":"integration","download":"x","path":"y"}}`)
	b.WriteString(`,{"package_manifest":{"name":"dup","version":"1.0.0","description":"second","type":"integration","download":"x","path":"y"}}`)
	b.WriteString("]}\n")
	return b.Bytes()
}

// memStore returns a memory bucket holding index as cursor's
// search-index-all.json.
func memStore(t testing.TB, cursor string, index []byte) *storage.Bucket {
	t.Helper()
	bk, err := storage.Open(context.Background(), storage.Config{PublicURL: "mem://", InternalURL: "mem://"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bk.Close() })
	if err := bk.Internal.WriteAll(context.Background(), storage.IndexAllKey(cursor), index, nil); err != nil {
		t.Fatal(err)
	}
	return bk.Internal
}

// snapshotOf returns the snapshot bytes of index and the catalog parsed
// from the JSON.
func snapshotOf(t testing.TB, cursor string, index []byte) ([]byte, *Catalog) {
	t.Helper()
	b := memStore(t, cursor, index)
	c, idx, err := loadIdentified(context.Background(), b, cursor)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := EncodeSnapshot(&out, c, idx); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), c
}

// describe renders everything a revision holds, pointers by value.
func describe(c *Catalog, r *Revision) string {
	// Not the dictionary: two JSON loads may pick different documents of
	// a name for it (the first a worker meets); the documents are equal.
	doc, err := c.Document(r)
	tmpl := ""
	for _, t := range r.templates {
		tmpl += fmt.Sprintf("%s%v;", t.name, t.categories)
	}
	return fmt.Sprintf("%s|%v|%v|%v|%s|%s|%v(%s)|%v(%s)|%v|%v|%s|%v|%v|%v|%v|%v|%+v|base=%q|over=%q|doc=%q,%v",
		r.ID, r.version, r.prerelease, r.major0, r.release, r.typ, r.kibana, r.kibanaSrc, r.agent, r.agentSrc,
		r.caps, r.categories, tmpl, r.spec, r.hasFields, r.hasDatasets, r.fields, r.datasets, r.deprecated,
		r.base, c.baseBytes(r), doc, err)
}

// sameCatalog fails t unless a and b hold the same revisions in the same
// order and answer the same searches and category lists.
func sameCatalog(t *testing.T, a, b *Catalog) {
	t.Helper()
	if a.Cursor() != b.Cursor() || a.Len() != b.Len() {
		t.Fatalf("cursor/len %s/%d vs %s/%d", a.Cursor(), a.Len(), b.Cursor(), b.Len())
	}
	for i := range a.revs {
		if da, db := describe(a, a.revs[i]), describe(b, b.revs[i]); da != db {
			t.Fatalf("revision %d differs:\n%.600s\n%.600s", i, da, db)
		}
	}
	for _, raw := range []string{"", "all=true", "prerelease=true", "package=aws&all=true", "kibana.version=8.3.0",
		"capabilities=observability", "spec.min=2.1&spec.max=3.0", "category=web", "discovery=fields:event.dataset,host.name",
		"discovery=datasets:x.y", "experimental=true", "type=integration&prerelease=true&agent.version=8.5.0"} {
		q, _ := url.ParseQuery(raw)
		f, err := ParseSearch(q, true)
		if err != nil {
			t.Fatal(err)
		}
		sa, ea := a.SearchJSON(f)
		sb, eb := b.SearchJSON(f)
		if !bytes.Equal(sa, sb) || fmt.Sprint(ea) != fmt.Sprint(eb) {
			t.Fatalf("search %q differs", raw)
		}
		cq, err := ParseCategories(q, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, incl := range []bool{false, true} {
			cq.IncludePolicyTemplates = incl
			ca, ea := a.CategoriesJSON(cq)
			cb, eb := b.CategoriesJSON(cq)
			if !bytes.Equal(ca, cb) || fmt.Sprint(ea) != fmt.Sprint(eb) {
				t.Fatalf("categories %q differ", raw)
			}
		}
	}
}

// TestSnapshotRoundTrip: the catalog read back from a snapshot is the
// catalog parsed from the JSON index, field by field and answer by answer,
// read whole or a byte at a time; and deltas apply on top the same way.
func TestSnapshotRoundTrip(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			idx := variedIndex(seed, 300)
			snap, want := snapshotOf(t, "100", idx)
			id := IndexIdentity{Size: int64(len(idx))}
			for name, r := range map[string]func() *bytes.Reader{"whole": func() *bytes.Reader { return bytes.NewReader(snap) }} {
				got, err := DecodeSnapshot(r(), "100", id)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				sameCatalog(t, want, got)
			}
			got, err := DecodeSnapshot(iotest.OneByteReader(bytes.NewReader(snap)), "100", id)
			if err != nil {
				t.Fatalf("byte by byte: %v", err)
			}
			sameCatalog(t, want, got)
			if want.deprecation == nil || len(want.baseOver) == 0 {
				t.Fatal("the index propagates no deprecation notice: the test covers less than it says")
			}
		})
	}
}

// TestLoadPrefersSnapshot: Load reads a cursor's snapshot when it is
// there and usable, and otherwise parses the JSON index, saying why.
func TestLoadPrefersSnapshot(t *testing.T) {
	ctx := context.Background()
	idx := variedIndex(7, 120)
	snap, want := snapshotOf(t, "200", idx)
	flipped := bytes.Clone(snap)
	flipped[len(flipped)/2] ^= 0x40
	other, _ := snapshotOf(t, "199", idx)
	grown := append(bytes.Clone(idx), ' ')
	for _, tc := range []struct {
		name   string
		snap   []byte // nil: none
		index  []byte
		source string
	}{
		{"valid", snap, idx, "snapshot"},
		{"missing", nil, idx, "index (snapshot missing)"},
		{"corrupt", flipped, idx, "index (snapshot unusable: catalog snapshot unusable: "},
		{"other cursor", other, idx, `index (snapshot unusable: catalog snapshot unusable: snapshot of cursor "199", not "200")`},
		{"other index", snap, grown, "index (snapshot unusable: catalog snapshot unusable: snapshot of another index file"},
		{"other version", append(append([]byte(snapMagic), 0, 0, 0, 9), snap[len(snapMagic)+4:]...), idx, "index (snapshot unusable: catalog snapshot unusable: format version 9, this program reads 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := memStore(t, "200", tc.index)
			if tc.snap != nil {
				if err := b.WriteAll(ctx, storage.IndexSnapshotKey("200"), tc.snap, nil); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Load(ctx, b, "200")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got.Source(), tc.source) {
				t.Errorf("source %q, want %q…", got.Source(), tc.source)
			}
			if !bytes.Equal(tc.index, idx) {
				return // the grown index is another catalog's source
			}
			sameCatalog(t, want, got)
		})
	}
}

// TestWriteSnapshot: the writer makes a snapshot that Load then uses, and
// leaves an existing one alone (create-if-absent).
func TestWriteSnapshot(t *testing.T) {
	ctx := context.Background()
	idx := variedIndex(9, 80)
	b := memStore(t, "300", idx)
	if err := WriteSnapshot(ctx, b, "300"); err != nil {
		t.Fatal(err)
	}
	first, err := b.ReadAll(ctx, storage.IndexSnapshotKey("300"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(ctx, b, "300")
	if err != nil || c.Source() != "snapshot" || c.Len() != 81 {
		t.Fatalf("load: %v, source %q, %d revisions", err, c.Source(), c.Len())
	}
	if err := b.WriteAll(ctx, storage.IndexSnapshotKey("300"), []byte("kept"), nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteSnapshot(ctx, b, "300"); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.ReadAll(ctx, storage.IndexSnapshotKey("300")); string(got) != "kept" {
		t.Fatalf("an existing snapshot was replaced (%d bytes; first was %d)", len(got), len(first))
	}
	if err := WriteSnapshot(ctx, b, "301"); err == nil {
		t.Fatal("snapshot of a cursor without an index: no error")
	}
}

// hostile returns a snapshot of cursor "1" bound to an index of size
// bytes whose body is body (framed and checksummed as a real one).
func hostile(size int, body []byte) []byte {
	hdr := []byte(snapMagic)
	hdr = binary.BigEndian.AppendUint32(hdr, SnapshotVersion)
	hdr = appendBytes(hdr, []byte("1"))
	hdr = binary.AppendUvarint(hdr, uint64(size))
	hdr = append(hdr, make([]byte, 32)...)
	hdr = binary.BigEndian.AppendUint32(hdr, crc32.Checksum(hdr, castagnoli))
	var out bytes.Buffer
	out.Write(hdr)
	w := s2.NewWriter(&out, s2.WriterConcurrency(1))
	w.Write(body)
	w.Close()
	return out.Bytes()
}

// uv concatenates uvarints and byte strings.
func uv(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = binary.AppendUvarint(b, uint64(p))
		case uint64:
			b = binary.AppendUvarint(b, p)
		case string:
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		}
	}
	return b
}

// rev is a revision record's fields up to the base and document lengths.
func rev(name, version string) []byte {
	return uv(0, len(name), name, len(version), version, 0, "", 0, "", 0, 0, 0, 0, 0)
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestSnapshotHostile: a snapshot from an untrusted bucket is refused
// with a specific error, never panics, and costs memory in proportion to
// its own bytes whatever its lengths and counts claim.
func TestSnapshotHostile(t *testing.T) {
	doc := s2.Encode(nil, []byte(`{"name":"a"}`))
	bomb := binary.AppendUvarint(nil, 1<<30) // a block claiming 1 GiB decoded
	bomb = append(bomb, 0)
	big := s2.Encode(nil, make([]byte, 101)) // 101 bytes of document, the index has 100
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"revision count", uv(0, uint64(1<<22)), "revision 0: flags: truncated"},
		{"count over the bound", uv(0, uint64(1<<40)), "over the bound"},
		{"dictionary count", uv(uint64(1 << 20)), "dictionary 0: truncated"},
		{"dictionary too large", uv(1, uint64(1<<30)), "over the bound"},
		{"invalid dictionary", uv(1, 3, "abc"), "dictionary 0: invalid"},
		{"base claims 64 MiB", uv(0, 1, rev("a", "1.0.0"), uint64(64<<20), 10, "short"), "base: truncated"},
		{"document over the bound", uv(0, 1, rev("a", "1.0.0"), 0, uint64(1<<30)), "over the bound"},
		{"document claims 1 GiB decoded", uv(0, 1, rev("a", "1.0.0"), 0, len(bomb), bomb, "end", 1), "bad compressed length"},
		{"documents larger than the index", uv(0, 1, rev("a", "1.0.0"), 0, len(big), big, "end", 1), "more than the index file holds"},
		{"list claims 2^16 strings", uv(0, 1, 0, 1, "a", 5, "1.0.0", 0, "", 0, "", uint64(1<<16)), "capabilities: truncated"},
		{"list over the bound", uv(0, 1, 0, 1, "a", 5, "1.0.0", 0, "", 0, "", uint64(1<<17)), "over the bound"},
		{"string over the bound", uv(0, 1, 0, uint64(1<<20)), "over the bound"},
		{"unknown flag", uv(0, 1, 1<<10), "over the bound"},
		{"dictionary index", uv(0, 1, flagDict, 1, "a", 5, "1.0.0", 0, "", 0, "", 0, 0, 0, 0, 0, 0), "dictionary index"},
		{"bad version", uv(0, 1, rev("a", "v1"), 0, len(doc), doc, "end", 1), "version"},
		{"bad constraint", uv(0, 1, flagKibana, 1, "a", 5, "1.0.0", 0, "", 0, "", 3, ">>x"), "conditions.kibana.version"},
		{"no name", uv(0, 1, rev("", "1.0.0")), "no name or version"},
		{"no end", uv(0, 1, rev("a", "1.0.0"), 0, len(doc), doc), "no end marker"},
		{"end with another count", uv(0, 1, rev("a", "1.0.0"), 0, len(doc), doc, "end", 2), "does not repeat"},
		{"data after the end", uv(0, 0, "end", 0, "more"), "data after the end"},
		{"varint overflow", uv(0, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"), "overflows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := hostile(100, tc.body)
			var err error
			n := allocated(func() { _, err = DecodeSnapshot(bytes.NewReader(snap), "1", IndexIdentity{Size: 100}) })
			if err == nil || !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrSnapshot with %q", err, tc.want)
			}
			// Buffers and a slab chunk; never what the lengths claim.
			if n > 8<<20 {
				t.Errorf("allocated %d MB for a %d-byte snapshot", n>>20, len(snap))
			}
		})
	}
	// The body's size is bounded too: a stream that decompresses beyond
	// MaxSnapshotBody is refused (checked with a zero-filled body, which
	// S2 compresses to almost nothing, under a small bound).
	t.Run("header", func(t *testing.T) {
		good := hostile(10, uv(0, 0, "end", 0))
		if _, err := DecodeSnapshot(bytes.NewReader(good), "1", IndexIdentity{Size: 10}); err != nil {
			t.Fatalf("the empty snapshot: %v", err)
		}
		for i := 0; i < len(snapMagic)+4+2+1+32+4; i++ {
			bad := bytes.Clone(good)
			bad[i] ^= 1
			if _, err := DecodeSnapshot(bytes.NewReader(bad), "1", IndexIdentity{Size: 10}); err == nil {
				t.Fatalf("header byte %d flipped: accepted", i)
			}
		}
	})
}

// TestSnapshotCorruption: every truncation and every flipped byte of a
// real snapshot is refused (the header's CRC and the S2 chunks' CRCs),
// never a panic, unless the flip leaves the decoded content unchanged (S2
// can encode the same bytes more than one way).
func TestSnapshotCorruption(t *testing.T) {
	idx := variedIndex(4, 40)
	snap, _ := snapshotOf(t, "5", idx)
	id := IndexIdentity{Size: int64(len(idx))}
	clean, err := DecodeSnapshot(bytes.NewReader(snap), "5", id)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer // the clean catalog, as the encoder writes it again
	if err := EncodeSnapshot(&want, clean, id); err != nil {
		t.Fatal(err)
	}
	step := max(1, len(snap)/4000)
	for i := 0; i < len(snap); i += step {
		if _, err := DecodeSnapshot(bytes.NewReader(snap[:i]), "5", id); err == nil {
			t.Fatalf("truncated to %d of %d bytes: accepted", i, len(snap))
		}
		bad := bytes.Clone(snap)
		bad[i] ^= 0x10
		c, err := DecodeSnapshot(bytes.NewReader(bad), "5", id)
		if err != nil {
			continue
		}
		// S2 may encode the same bytes more than one way (a copy from
		// another offset holding the same text): a flip that decodes to
		// the very same content is no corruption. Anything else must be
		// refused.
		var again bytes.Buffer
		if err := EncodeSnapshot(&again, c, id); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), want.Bytes()) {
			t.Fatalf("byte %d of %d flipped: accepted, and the catalog differs", i, len(snap))
		}
	}
}

// FuzzSnapshot feeds arbitrary bytes to the decoder, both as a whole
// snapshot and as the body of a well-framed one (so that mutations reach
// the record decoder past the checksums): it must not panic, and a
// catalog it accepts must answer documents, searches and categories
// without panicking either.
func FuzzSnapshot(f *testing.F) {
	idx := variedIndex(11, 3)
	snap, _ := snapshotOf(f, "1", idx)
	f.Add(snap, false)
	body, err := s2.NewReader(bytes.NewReader(snap[len(snapMagic)+4+2+2+32+4:])).DecodeConcurrent(new(bytes.Buffer), 1)
	_ = body
	if err == nil {
		var plain bytes.Buffer
		s2.NewReader(bytes.NewReader(snap[len(snapMagic)+4+2+2+32+4:])).DecodeConcurrent(&plain, 1)
		f.Add(plain.Bytes(), true)
	}
	f.Add(uv(0, 1, rev("a", "1.0.0"), 2, 3, "{}", s2.Encode(nil, []byte("{}")), "end", 1), true)
	f.Fuzz(func(t *testing.T, in []byte, asBody bool) {
		size := len(idx)
		if asBody {
			in = hostile(size, in)
		}
		c, err := DecodeSnapshot(bytes.NewReader(in), "1", IndexIdentity{Size: int64(size)})
		if err != nil {
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("error %v is not ErrSnapshot", err)
			}
			return
		}
		for _, r := range c.revs {
			c.Document(r)
		}
		f, _ := ParseSearch(url.Values{"all": {"true"}, "prerelease": {"true"}}, true)
		c.SearchJSON(f)
		c.CategoriesJSON(CategoriesQuery{IncludePolicyTemplates: true})
	})
}

// TestSnapshotOfSmallCatalogAllocatesLittle: the S2 writer's buffers are
// sized to the snapshot, not to the largest block: the snapshot of an
// empty catalog (what a serve over package paths writes for its empty
// store right after the first scan) allocated 2.2 MB.
func TestSnapshotOfSmallCatalogAllocatesLittle(t *testing.T) {
	c := Empty()
	var buf bytes.Buffer
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := EncodeSnapshot(&buf, c, IndexIdentity{}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 512<<10 {
		t.Errorf("snapshot of an empty catalog allocated %d KiB", got>>10)
	}
	back, err := DecodeSnapshot(bytes.NewReader(buf.Bytes()), "", IndexIdentity{})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if back.Len() != 0 {
		t.Errorf("decoded %d revisions", back.Len())
	}
}
