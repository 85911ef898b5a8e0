package eprdiff

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/Masterminds/semver/v3"

	"pkgstore/internal/builder"
	"pkgstore/internal/testkit/sigtest"
)

// ProdShapeOptions say how WriteProdShape grows the synthetic corpus.
type ProdShapeOptions struct {
	// Seed decides every choice and byte; 0 means 1.
	Seed uint64
	// TagEvery is SynthCorpus's: every TagEvery-th copy gets a -rcK tag.
	TagEvery int
	// Scale multiplies every count and size below (rules, dashboards,
	// files' sizes, data streams); 0 means 1, production's. Tests of the
	// generator itself use a tenth.
	Scale float64
}

// ProdShapeStats describe a corpus WriteProdShape wrote.
type ProdShapeStats struct {
	Revisions int
	ZipBytes  int64 // the zips alone
	Files     int   // file entries over every zip
	MaxFiles  int   // file entries of the largest revision by entries
	MaxZip    int64 // bytes of the largest zip
	// Over1MB and Over4MB count the zips larger than 1 and 4 MiB.
	Over1MB, Over4MB int
	// Shapes names the packages grown into each shape.
	Shapes map[string][]string
}

func (s ProdShapeStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d zips, %d MB (%.2f MB average, largest %.1f MB; %d over 1 MB, %d over 4 MB), %d files (largest revision %d)",
		s.Revisions, s.ZipBytes>>20, float64(s.ZipBytes)/float64(max(s.Revisions, 1))/(1<<20), float64(s.MaxZip)/(1<<20),
		s.Over1MB, s.Over4MB, s.Files, s.MaxFiles)
	keys := make([]string, 0, len(s.Shapes))
	for k := range s.Shapes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "; %s: %s", k, strings.Join(s.Shapes[k], ","))
	}
	return b.String()
}

// The production shape's parameters (production's v1 branch: 1,918
// revisions, 2.5 GB, 1.3 MB per revision on average; see WriteProdShape).
const (
	// Security rules: one package, from psRulesMin rules in its lowest
	// version to psRulesMax in its highest.
	psRulesMin, psRulesMax = 500, 3200
	// Dashboards: psDashNames packages with 50-200 dashboards of 20-300
	// KB, and up to 40 visualizations of 4-40 KB.
	psDashNames = 8
	// ML modules: psMLNames packages with 1-3 modules of 50-400 KB.
	psMLNames = 5
	// Big fields: psFieldsNames packages whose first data stream gets a
	// fields file of 200 KB-2 MB.
	psFieldsNames = 8
	// Many data streams: psStreamNames packages get 20-60 more data
	// streams, copies of their own.
	psStreamNames = 4
	// Screenshots: a package gets 1-4 more with probability
	// psShotPercent %, each 100 KB-2 MB of incompressible pixels.
	psShotPercent = 55
)

// WriteProdShape writes n signed zips in production's shape into dir
// (NAME-VERSION.zip and, with key, .zip.sig) and returns a corpus listing
// them without their bytes (Package.Zip is nil: 2.5 GB are not held in
// memory), and what it wrote.
//
// It starts from SynthCorpus(sample, n, o.TagEvery) (the v1 sample's
// revisions re-versioned: 1,918 zips of 84 KB on average, at most 338
// files) and grows a subset of the packages, chosen by o.Seed, by ADDING
// files of the shapes production's v1 branch has (each shape's files are
// generated once per package and copied, still compressed, into each of
// its versions: 2.5 GB take about a minute, most of it writing them):
//
//   - security rules (one package, the shape of security_detection_engine):
//     kibana/security_rule/UUID.json saved objects of 1-9 KB (MITRE
//     threats, EQL/KQL queries, triage notes), from 500 in the package's
//     lowest version to 3,200 in its highest (98 versions with seed 1);
//   - dashboards (8 packages, as aws, cisco, kubernetes): 50-200
//     kibana/dashboard/NAME-UUID.json of 20-300 KB (log-uniform; Lens
//     panels with escaped state, as Kibana exports them) and up to 40
//     visualizations; later versions have more of them;
//   - ML modules (5 packages): 1-3 kibana/ml_module/NAME-KEY.json of
//     50-400 KB (jobs and datafeeds);
//   - big fields (8 packages): data_stream/D/fields/extended.yml of
//     200 KB-2 MB (groups of keyword, long and ip fields with descriptions);
//   - many data streams (4 packages): 20-60 more data streams, copies of
//     the package's own (those without an explicit dataset) under new
//     names;
//   - screenshots (55 % of the packages): 1-4 img/NAME-screenshot-K.png of
//     100 KB-2 MB (log-uniform), valid PNGs of random pixels, declared in
//     manifest.yml's screenshots; stored in half of the packages (as
//     `pkgstore build` stores images) and deflated in the other half (as
//     elastic-package's zips have them).
//
// With the sample of 269 revisions and n = 1,918 (seed 1) this gives
// 2,511 MB of zips, 1.31 MB on average: per zip p10 9 KB, p25 57 KB,
// median 1.24 MB, p90 2.6 MB, p99 6.3 MB, largest 7.0 MB (the rules
// package's highest versions, 3,221 files); 1,147 zips over 1 MB, 92
// over 4 MB; 287,046 files, 182,336 of them in the rules package's 98
// versions. The returned stats say the same of any run
// (BenchmarkPackagePathsStart and TestPackagePathsScale log them);
// docs/benchmarks.md has the table of which package got which shape.
func WriteProdShape(tb testing.TB, dir string, sample []Built, n int, o ProdShapeOptions, key *sigtest.Key) (*Corpus, ProdShapeStats) {
	tb.Helper()
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	c := SynthCorpus(tb, "production-shape", sample, n, o.TagEvery)
	plan := planProdShape(tb, c, o.Seed, o.Scale)
	st := ProdShapeStats{Revisions: len(c.Packages), Shapes: plan.shapes}

	// Two workers (the machine's cores), each growing, signing and
	// writing one revision at a time; results land by index.
	type result struct {
		files []string
		size  int64
		err   error
	}
	results := make([]result, len(c.Packages))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One buffer per worker, reused: growing a fresh one for
			// each of 2.5 GB of zips costs more than making them.
			var buf bytes.Buffer
			for i := range next {
				pk := &c.Packages[i]
				buf.Reset()
				files, err := plan.grow(pk, &buf)
				data := buf.Bytes()
				if err != nil {
					results[i].err = fmt.Errorf("grow %s: %w", pk.ID, err)
					continue
				}
				zp := filepath.Join(dir, pk.ID.ZipName())
				if err := os.WriteFile(zp, data, 0o644); err != nil {
					results[i].err = err
					continue
				}
				if key != nil {
					var sig bytes.Buffer
					if err := key.Signer.Sign(&sig, bytes.NewReader(data)); err != nil {
						results[i].err = fmt.Errorf("sign %s: %w", pk.ID, err)
						continue
					}
					if err := os.WriteFile(zp+".sig", sig.Bytes(), 0o644); err != nil {
						results[i].err = err
						continue
					}
				}
				results[i] = result{files: files, size: int64(len(data))}
			}
		}()
	}
	for i := range c.Packages {
		next <- i
	}
	close(next)
	wg.Wait()
	for i := range c.Packages {
		r := results[i]
		if r.err != nil {
			tb.Fatalf("eprdiff: production shape: %v", r.err)
		}
		pk := &c.Packages[i]
		pk.Zip, pk.Files = nil, r.files
		st.ZipBytes += r.size
		st.Files += len(r.files)
		st.MaxFiles = max(st.MaxFiles, len(r.files))
		st.MaxZip = max(st.MaxZip, r.size)
		if r.size > 1<<20 {
			st.Over1MB++
		}
		if r.size > 4<<20 {
			st.Over4MB++
		}
	}
	return c, st
}

// rawEntry is a file ready to be copied into a zip still compressed.
type rawEntry struct {
	name   string // below the package root
	method uint16
	crc    uint32
	usize  uint64
	data   []byte // compressed as method says
}

// shot is one added screenshot.
type shot struct {
	entry rawEntry
	w, h  int
}

// nameShape is what one package name is grown with.
type nameShape struct {
	rules      []rawEntry // the pool; revision rank r gets the first few
	dashboards []rawEntry // likewise
	visuals    []rawEntry
	ml         []rawEntry
	fields     *rawEntry // data_stream/<first>/fields/extended.yml
	streams    int       // data stream copies per revision
	shots      []shot
	// rank of each version among the name's versions (0 lowest), and
	// how many versions there are.
	rank  map[string]int
	count int
}

type prodPlan struct {
	seed   uint64
	names  map[string]*nameShape
	shapes map[string][]string
}

// planProdShape chooses which names get which shape and generates their
// files (in parallel, two at a time).
func planProdShape(tb testing.TB, c *Corpus, seed uint64, scale float64) *prodPlan {
	tb.Helper()
	versions := map[string][]*semver.Version{}
	for _, p := range c.Packages {
		versions[p.ID.Name] = append(versions[p.ID.Name], semver.MustParse(p.ID.Version))
	}
	names := make([]string, 0, len(versions))
	for n := range versions {
		names = append(names, n)
	}
	sort.Strings(names)
	pl := &prodPlan{seed: seed, names: map[string]*nameShape{}, shapes: map[string][]string{}}
	for _, n := range names {
		vs := versions[n]
		sort.Slice(vs, func(i, j int) bool { return vs[i].LessThan(vs[j]) })
		s := &nameShape{rank: map[string]int{}, count: len(vs)}
		for i, v := range vs {
			s.rank[v.Original()] = i
		}
		pl.names[n] = s
	}
	r := rand.New(rand.NewPCG(seed, 0x70726f64))
	// The rules package: among the names with the most versions, as
	// security_detection_engine is among production's most released.
	most := 0
	for _, n := range names {
		most = max(most, len(versions[n]))
	}
	var busy []string
	for _, n := range names {
		if len(versions[n])*10 >= most*8 {
			busy = append(busy, n)
		}
	}
	rulesName := busy[r.IntN(len(busy))]
	rest := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == rulesName })
	rest = slices.Clip(rest)
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	take := func(k int) []string {
		k = min(k, len(rest))
		out := slices.Clone(rest[:k])
		rest = slices.Concat(rest[k:], rest[:k]) // later shapes prefer other names
		sort.Strings(out)
		return out
	}
	dash, ml, fields, streams := take(psDashNames), take(psMLNames), take(psFieldsNames), take(psStreamNames)
	var shots []string
	for _, n := range names {
		if r.IntN(100) < psShotPercent {
			shots = append(shots, n)
		}
	}
	if len(shots) == 0 {
		// A small corpus still gets every shape.
		shots = []string{names[r.IntN(len(names))]}
	}
	pl.shapes["rules"] = []string{rulesName}
	pl.shapes["dashboards"] = dash
	pl.shapes["ml"] = ml
	pl.shapes["fields"] = fields
	pl.shapes["datastreams"] = streams
	pl.shapes["screenshots"] = shots

	sc := func(n int) int {
		if n == 0 {
			return 0
		}
		return max(1, int(math.Round(float64(n)*scale)))
	}
	type job struct {
		name string
		fn   func(g *gen, s *nameShape)
	}
	var jobs []job
	jobs = append(jobs, job{rulesName, func(g *gen, s *nameShape) {
		for i := range sc(psRulesMax) {
			s.rules = append(s.rules, g.deflated("kibana/security_rule/"+g.uuid()+".json", g.rule(i)))
		}
	}})
	for _, n := range dash {
		jobs = append(jobs, job{n, func(g *gen, s *nameShape) {
			for range sc(50 + g.r.IntN(151)) {
				id := n + "-" + g.uuid()
				s.dashboards = append(s.dashboards, g.deflated("kibana/dashboard/"+id+".json", g.dashboard(id, sc(g.logUniform(20<<10, 300<<10)))))
			}
			for range sc(g.r.IntN(41)) {
				id := n + "-" + g.uuid()
				s.visuals = append(s.visuals, g.deflated("kibana/visualization/"+id+".json", g.dashboard(id, sc(g.logUniform(4<<10, 40<<10)))))
			}
		}})
	}
	for _, n := range ml {
		jobs = append(jobs, job{n, func(g *gen, s *nameShape) {
			for k := range 1 + g.r.IntN(3) {
				id := fmt.Sprintf("%s-%s", n, []string{"anomalies", "rare_events", "host_activity"}[k])
				s.ml = append(s.ml, g.deflated("kibana/ml_module/"+id+".json", g.mlModule(id, sc(g.logUniform(50<<10, 400<<10)))))
			}
		}})
	}
	for _, n := range fields {
		jobs = append(jobs, job{n, func(g *gen, s *nameShape) {
			e := g.deflated("fields/extended.yml", g.fieldsYAML(sc(g.logUniform(200<<10, 2<<20))))
			s.fields = &e
		}})
	}
	for _, n := range streams {
		jobs = append(jobs, job{n, func(g *gen, s *nameShape) { s.streams = sc(20 + g.r.IntN(41)) }})
	}
	for _, n := range shots {
		jobs = append(jobs, job{n, func(g *gen, s *nameShape) {
			stored := g.r.IntN(2) == 0
			for k := range 1 + g.r.IntN(4) {
				w, h, png := g.png(sc(g.logUniform(100<<10, 2<<20)))
				name := fmt.Sprintf("img/%s-screenshot-%d.png", n, k+1)
				var e rawEntry
				if stored {
					e = storedEntry(name, png)
				} else {
					e = deflatedEntry(name, png, flate.BestSpeed)
				}
				s.shots = append(s.shots, shot{entry: e, w: w, h: h})
			}
		}})
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, j := range jobs {
		s := pl.names[j.name]
		// Each job's own generator: the bytes do not depend on the
		// order the jobs run in.
		g := &gen{r: rand.New(rand.NewPCG(seed, uint64(i)+1))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			// Jobs of one name touch distinct fields of its shape,
			// but serialize them anyway: appends are cheap.
			part := &nameShape{}
			j.fn(g, part)
			mu.Lock()
			s.rules = append(s.rules, part.rules...)
			s.dashboards = append(s.dashboards, part.dashboards...)
			s.visuals = append(s.visuals, part.visuals...)
			s.ml = append(s.ml, part.ml...)
			if part.fields != nil {
				s.fields = part.fields
			}
			s.streams += part.streams
			s.shots = append(s.shots, part.shots...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return pl
}

// upTo is how many of a pool of n the revision of rank r of count gets:
// from lo·n in the lowest version to all of it in the highest.
func upTo(n, r, count int, lo float64) int {
	if count <= 1 {
		return n
	}
	f := lo + (1-lo)*float64(r)/float64(count-1)
	return max(1, int(math.Round(f*float64(n))))
}

var (
	topLevelScreenshots = regexp.MustCompile(`(?m)^screenshots:[ \t]*\n`)
	explicitDataset     = regexp.MustCompile(`(?m)^dataset:`)
)

// grow writes pk's zip with its shape's files added to buf and returns its
// file list (below the root, lexical).
func (pl *prodPlan) grow(pk *Package, buf *bytes.Buffer) ([]string, error) {
	s := pl.names[pk.ID.Name]
	zr, err := zip.NewReader(bytes.NewReader(pk.Zip), int64(len(pk.Zip)))
	if err != nil {
		return nil, fmt.Errorf("read zip: %w", err)
	}
	root := pk.ID.String() + "/"
	type out struct {
		h    zip.FileHeader
		data []byte // raw (compressed) bytes; nil for folders
	}
	var entries []out
	have := map[string]bool{}
	var streamTemplates []string
	for _, f := range zr.File {
		// The entry's bytes as they are, without a copy.
		off, err := f.DataOffset()
		if err != nil || off+int64(f.CompressedSize64) > int64(len(pk.Zip)) {
			return nil, fmt.Errorf("entry %s: bad offset (%v)", f.Name, err)
		}
		raw := pk.Zip[off : off+int64(f.CompressedSize64)]
		h := f.FileHeader
		have[f.Name] = true
		if f.Name == root+"manifest.yml" && len(s.shots) > 0 {
			m, err := readEntry(f)
			if err != nil {
				return nil, err
			}
			m = addScreenshots(m, pk.ID.Name, s.shots)
			e := deflatedEntry("manifest.yml", m, flate.DefaultCompression)
			h.Method, h.CRC32, h.UncompressedSize64, h.CompressedSize64 = e.method, e.crc, e.usize, uint64(len(e.data))
			raw = e.data
		}
		entries = append(entries, out{h: h, data: raw})
		rel := strings.TrimPrefix(f.Name, root)
		if parts := strings.Split(rel, "/"); len(parts) == 3 && parts[0] == "data_stream" && parts[2] == "manifest.yml" {
			m, err := readEntry(f)
			if err != nil {
				return nil, err
			}
			if !explicitDataset.Match(m) {
				streamTemplates = append(streamTemplates, parts[1])
			}
		}
	}
	var dup []string
	add := func(e rawEntry) {
		h := zip.FileHeader{Name: root + e.name, Method: e.method, CRC32: e.crc, UncompressedSize64: e.usize,
			CompressedSize64: uint64(len(e.data)), Modified: builder.ModTime}
		h.SetMode(builder.FileMode)
		if have[h.Name] {
			dup = append(dup, h.Name)
		}
		entries = append(entries, out{h: h, data: e.data})
		have[h.Name] = true
	}
	rank := s.rank[pk.ID.Version]
	if len(s.rules) > 0 {
		for _, e := range s.rules[:upTo(len(s.rules), rank, s.count, float64(psRulesMin)/psRulesMax)] {
			add(e)
		}
	}
	if len(s.dashboards) > 0 {
		for _, e := range s.dashboards[:upTo(len(s.dashboards), rank, s.count, 0.6)] {
			add(e)
		}
	}
	if len(s.visuals) > 0 {
		for _, e := range s.visuals[:upTo(len(s.visuals), rank, s.count, 0.6)] {
			add(e)
		}
	}
	for _, e := range s.ml {
		add(e)
	}
	for _, sh := range s.shots {
		add(sh.entry)
	}
	if s.streams > 0 && len(streamTemplates) > 0 {
		// Copies of the package's own data streams, round robin, each
		// named after its template and a service word.
		var copies []out
		for k := range s.streams {
			t := streamTemplates[k%len(streamTemplates)]
			nd := fmt.Sprintf("%s_%s%d", t, serviceWords[k%len(serviceWords)], k/len(serviceWords)+1)
			from, to := root+"data_stream/"+t+"/", root+"data_stream/"+nd+"/"
			for _, e := range entries {
				if !strings.HasPrefix(e.h.Name, from) {
					continue
				}
				h := e.h
				h.Name = to + strings.TrimPrefix(e.h.Name, from)
				if have[h.Name] {
					return nil, fmt.Errorf("data stream copy %s exists", h.Name)
				}
				copies = append(copies, out{h: h, data: e.data})
			}
		}
		for _, e := range copies {
			have[e.h.Name] = true
		}
		entries = append(entries, copies...)
	}
	if s.fields != nil && len(streamTemplates) > 0 {
		e := *s.fields
		e.name = "data_stream/" + streamTemplates[0] + "/" + e.name
		add(e)
	}
	if len(dup) > 0 {
		return nil, fmt.Errorf("added files exist already: %v", dup)
	}
	// Folder entries for new folders, as the builder writes them.
	for name := range have {
		for d := parentDir(name); d != "" && d != root; d = parentDir(d) {
			if !have[d] {
				have[d] = true
				h := zip.FileHeader{Name: d, Method: zip.Store, Modified: builder.ModTime}
				h.SetMode(os.ModeDir | builder.DirMode)
				entries = append(entries, out{h: h})
			}
		}
	}
	// A package walk's order: component by component.
	sort.SliceStable(entries, func(i, j int) bool {
		return strings.ReplaceAll(entries[i].h.Name, "/", "\x00") < strings.ReplaceAll(entries[j].h.Name, "/", "\x00")
	})
	size := 0
	for _, e := range entries {
		size += len(e.data) + 2*len(e.h.Name) + 128
	}
	buf.Grow(size)
	zw := zip.NewWriter(buf)
	var files []string
	for _, e := range entries {
		h := e.h
		if strings.HasSuffix(h.Name, "/") {
			if _, err := zw.CreateHeader(&h); err != nil {
				return nil, err
			}
			continue
		}
		w, err := zw.CreateRaw(&h)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", h.Name, err)
		}
		if _, err := w.Write(e.data); err != nil {
			return nil, fmt.Errorf("write %s: %w", h.Name, err)
		}
		if rel, ok := strings.CutPrefix(h.Name, root); ok {
			files = append(files, rel)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

// parentDir returns the folder holding name ("a/b/" for "a/b/c" and "a/b/c/"),
// or "" at the top.
func parentDir(name string) string {
	name = strings.TrimSuffix(name, "/")
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ""
	}
	return name[:i+1]
}

func readEntry(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Name, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// addScreenshots declares shots in a manifest: in its top-level
// screenshots list when it has one, else in a new one at its end.
func addScreenshots(m []byte, name string, shots []shot) []byte {
	var items bytes.Buffer
	indent := "  "
	loc := topLevelScreenshots.FindIndex(m)
	if loc != nil {
		// The existing items' indentation ("- " or "  - ").
		rest := m[loc[1]:]
		indent = string(rest[:len(rest)-len(bytes.TrimLeft(rest, " "))])
	}
	for _, s := range shots {
		fmt.Fprintf(&items, "%s- src: /%s\n%s  title: %s\n%s  size: %dx%d\n%s  type: image/png\n",
			indent, s.entry.name, indent, strings.TrimSuffix(strings.TrimPrefix(s.entry.name, "img/"+name+"-"), ".png"), indent, s.w, s.h, indent)
	}
	if loc != nil {
		return slices.Concat(m[:loc[1]], items.Bytes(), m[loc[1]:])
	}
	if len(m) > 0 && m[len(m)-1] != '\n' {
		m = append(m, '\n')
	}
	return slices.Concat(m, []byte("screenshots:\n"), items.Bytes())
}

func storedEntry(name string, data []byte) rawEntry {
	return rawEntry{name: name, method: zip.Store, crc: crc32.ChecksumIEEE(data), usize: uint64(len(data)), data: data}
}

func deflatedEntry(name string, data []byte, level int) rawEntry {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, level) // the level is one of flate's
	fw.Write(data)
	fw.Close()
	return rawEntry{name: name, method: zip.Deflate, crc: crc32.ChecksumIEEE(data), usize: uint64(len(data)), data: b.Bytes()}
}

// gen makes the shapes' file contents from one seeded source.
type gen struct{ r *rand.Rand }

func (g *gen) deflated(name string, data []byte) rawEntry {
	return deflatedEntry(name, data, flate.DefaultCompression)
}

func (g *gen) uuid() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], g.r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], g.r.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// logUniform returns a size between lo and hi, log-uniformly.
func (g *gen) logUniform(lo, hi int) int {
	return int(float64(lo) * math.Exp(g.r.Float64()*math.Log(float64(hi)/float64(lo))))
}

func (g *gen) pick(words []string) string { return words[g.r.IntN(len(words))] }

// words returns n words of prose.
func (g *gen) words(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.pick(proseWords))
	}
	return b.String()
}

// rule is a security-rule saved object as security_detection_engine ships
// them (1-9 KB: the triage note is most of it).
func (g *gen) rule(i int) []byte {
	id := g.uuid()
	tactic := mitreTactics[g.r.IntN(len(mitreTactics))]
	lang, typ := "kuery", "query"
	query := fmt.Sprintf("event.category:%s and event.action:%q and %s:%q", g.pick(ecsCategories), g.words(2), g.pick(ecsFields), g.words(1))
	if g.r.IntN(2) == 0 {
		lang, typ = "eql", "eql"
		query = fmt.Sprintf("process where host.os.type == %q and event.type == \"start\" and\n  process.name : (%q, %q, %q) and\n  process.args : (%q, %q)",
			g.pick([]string{"windows", "linux", "macos"}), g.words(1)+".exe", g.words(1)+".exe", g.words(1), "-"+g.words(1), "/"+g.words(1))
	}
	var techniques []map[string]any
	for range 1 + g.r.IntN(3) {
		t := fmt.Sprintf("T%04d", 1000+g.r.IntN(600))
		techniques = append(techniques, map[string]any{"id": t, "name": g.words(3), "reference": "https://attack.mitre.org/techniques/" + t + "/"})
	}
	note := "## Triage and analysis\n\n### Investigating " + g.words(4) + "\n\n" + g.words(40+g.r.IntN(700)) +
		"\n\n### Response and remediation\n\n- " + g.words(30) + "\n- " + g.words(25)
	v := 1 + g.r.IntN(110)
	doc := map[string]any{
		"attributes": map[string]any{
			"author":             []string{"Elastic"},
			"description":        g.words(20 + g.r.IntN(60)),
			"false_positives":    []string{g.words(15 + g.r.IntN(30))},
			"from":               "now-9m",
			"index":              []string{"logs-endpoint.events.*", "winlogbeat-*", "logs-windows.*", "auditbeat-*"}[:1+g.r.IntN(4)],
			"language":           lang,
			"license":            "Elastic License v2",
			"name":               fmt.Sprintf("%s %s (%d)", strings.ToUpper(g.words(1)[:1])+g.words(3), tactic[1], i),
			"note":               note,
			"query":              query,
			"references":         []string{"https://docs.microsoft.com/en-us/" + g.words(1), "https://attack.mitre.org/" + g.words(1)},
			"risk_score":         []int{21, 47, 73, 99}[g.r.IntN(4)],
			"rule_id":            id,
			"severity":           []string{"low", "medium", "high", "critical"}[g.r.IntN(4)],
			"tags":               []string{"Domain: Endpoint", "OS: Windows", "Use Case: Threat Detection", "Tactic: " + tactic[1], "Data Source: Elastic Defend"},
			"threat":             []map[string]any{{"framework": "MITRE ATT&CK", "tactic": map[string]string{"id": tactic[0], "name": tactic[1], "reference": "https://attack.mitre.org/tactics/" + tactic[0] + "/"}, "technique": techniques}},
			"timestamp_override": "event.ingested",
			"type":               typ,
			"version":            v,
		},
		"id":   fmt.Sprintf("%s_%d", id, v),
		"type": "security-rule",
	}
	data, _ := json.MarshalIndent(doc, "", "    ") // maps of strings and numbers
	return data
}

// dashboard is a dashboard (or visualization) saved object of about size
// bytes: Lens panels whose state is escaped JSON inside JSON, as Kibana
// exports them.
func (g *gen) dashboard(id string, size int) []byte {
	var panels []map[string]any
	var refs []map[string]string
	n := 0
	for n < size {
		pid := g.uuid()
		var cols []map[string]any
		for range 2 + g.r.IntN(5) {
			cols = append(cols, map[string]any{
				"columnId": g.uuid(), "dataType": g.pick([]string{"number", "string", "date"}),
				"isBucketed": g.r.IntN(2) == 0, "label": g.words(3), "operationType": g.pick([]string{"terms", "count", "average", "date_histogram", "unique_count", "max"}),
				"scale": "ordinal", "sourceField": g.pick(ecsFields), "params": map[string]any{"size": 10, "orderDirection": "desc"},
			})
		}
		state := map[string]any{
			"datasourceStates": map[string]any{"formBased": map[string]any{"layers": map[string]any{g.uuid(): map[string]any{"columns": cols, "incompleteColumns": map[string]any{}}}}},
			"filters":          []any{},
			"query":            map[string]string{"language": "kuery", "query": fmt.Sprintf("data_stream.dataset : %q", g.words(1))},
			"visualization":    map[string]any{"layerId": g.uuid(), "layerType": "data", "legend": map[string]any{"isVisible": true, "position": "right"}, "preferredSeriesType": g.pick([]string{"bar_stacked", "line", "area"})},
		}
		st, _ := json.Marshal(state)
		panel := map[string]any{
			"embeddableConfig": map[string]any{"attributes": map[string]any{"references": []any{}, "state": string(st), "title": g.words(4), "visualizationType": "lnsXY"}, "enhancements": map[string]any{}},
			"gridData":         map[string]any{"h": 15, "i": pid, "w": 24, "x": 24 * g.r.IntN(2), "y": 15 * len(panels)},
			"panelIndex":       pid, "type": "lens", "version": "8.5.0",
		}
		pj, _ := json.Marshal(panel)
		n += len(pj) + 40
		panels = append(panels, panel)
		refs = append(refs, map[string]string{"id": "logs-*", "name": pid + ":indexpattern-datasource-layer-" + g.uuid(), "type": "index-pattern"})
	}
	pj, _ := json.Marshal(panels)
	doc := map[string]any{
		"attributes": map[string]any{
			"description": g.words(12), "hits": 0,
			"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": `{"filter":[],"query":{"language":"kuery","query":""}}`},
			"optionsJSON":           `{"hidePanelTitles":false,"syncColors":false,"useMargins":true}`,
			"panelsJSON":            string(pj), "timeRestore": false, "title": "[Logs] " + g.words(3), "version": 1,
		},
		"coreMigrationVersion": "8.5.0", "id": id, "migrationVersion": map[string]string{"dashboard": "8.5.0"},
		"references": refs, "type": "dashboard",
	}
	data, _ := json.MarshalIndent(doc, "", "    ")
	return data
}

// mlModule is an ML module saved object of about size bytes (jobs with
// their datafeeds).
func (g *gen) mlModule(id string, size int) []byte {
	var jobs, feeds []map[string]any
	n := 0
	for n < size {
		jid := fmt.Sprintf("%s_%s_%d", id, g.words(1), len(jobs))
		var detectors []map[string]any
		for range 1 + g.r.IntN(4) {
			detectors = append(detectors, map[string]any{"detector_description": g.words(6), "function": g.pick([]string{"rare", "high_count", "high_distinct_count", "mean"}), "by_field_name": g.pick(ecsFields), "partition_field_name": g.pick(ecsFields)})
		}
		job := map[string]any{"id": jid, "config": map[string]any{
			"description":      g.words(25),
			"groups":           []string{"security", g.words(1)},
			"analysis_config":  map[string]any{"bucket_span": "15m", "detectors": detectors, "influencers": []string{g.pick(ecsFields), g.pick(ecsFields)}},
			"analysis_limits":  map[string]string{"model_memory_limit": "64mb"},
			"data_description": map[string]string{"time_field": "@timestamp"},
			"custom_settings":  map[string]any{"created_by": "ml-module-" + id, "custom_urls": []map[string]string{{"url_name": g.words(3), "url_value": "dashboards#/view/" + g.uuid() + "?_g=(time:(from:'$earliest$',mode:absolute,to:'$latest$'))&_a=(query:(language:kuery,query:'" + g.words(4) + "'))"}}},
		}}
		feed := map[string]any{"id": "datafeed-" + jid, "config": map[string]any{"job_id": jid, "indices": []string{"logs-*"}, "query": map[string]any{"bool": map[string]any{"filter": []any{map[string]any{"term": map[string]string{"event.category": g.pick(ecsCategories)}}}}}}}
		jb, _ := json.Marshal(job)
		fb, _ := json.Marshal(feed)
		n += len(jb) + len(fb) + 200
		jobs, feeds = append(jobs, job), append(feeds, feed)
	}
	doc := map[string]any{"attributes": map[string]any{"id": id, "title": g.words(3), "description": g.words(20), "type": "logs", "logo": map[string]string{"icon": "logoSecurity"},
		"defaultIndexPattern": "logs-*", "query": map[string]any{"bool": map[string]any{"filter": []any{}}}, "jobs": jobs, "datafeeds": feeds},
		"id": id, "type": "ml-module"}
	data, _ := json.MarshalIndent(doc, "", "    ")
	return data
}

// fieldsYAML is a fields file of about size bytes: groups of fields with
// descriptions, as big integrations' fields.yml are.
func (g *gen) fieldsYAML(size int) []byte {
	var b bytes.Buffer
	for b.Len() < size {
		fmt.Fprintf(&b, "- name: %s_%d\n  type: group\n  description: >\n    %s\n  fields:\n", g.pick(proseWords), b.Len()%9973, g.words(8))
		for range 5 + g.r.IntN(25) {
			fmt.Fprintf(&b, "    - name: %s_%s\n      type: %s\n      description: >\n        %s\n", g.pick(proseWords), g.pick(proseWords),
				g.pick([]string{"keyword", "long", "ip", "date", "double", "boolean", "text", "match_only_text"}), g.words(5+g.r.IntN(30)))
		}
	}
	return b.Bytes()
}

// png returns a valid PNG of random pixels of about size bytes, and its
// dimensions.
func (g *gen) png(size int) (int, int, []byte) {
	const w = 1280
	h := max(1, size/(3*w+1))
	raw := make([]byte, h*(3*w+1))
	for i := 0; i+8 <= len(raw); i += 8 {
		binary.LittleEndian.PutUint64(raw[i:], g.r.Uint64())
	}
	for y := range h {
		raw[y*(3*w+1)] = 0 // filter: none
	}
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.NoCompression) // a valid level
	zw.Write(raw)
	zw.Close()
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, c.Sum32())
	}
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 2 // 8 bits, RGB
	chunk("IHDR", ihdr[:])
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return w, h, out.Bytes()
}

var mitreTactics = [][2]string{
	{"TA0001", "Initial Access"}, {"TA0002", "Execution"}, {"TA0003", "Persistence"}, {"TA0004", "Privilege Escalation"},
	{"TA0005", "Defense Evasion"}, {"TA0006", "Credential Access"}, {"TA0007", "Discovery"}, {"TA0008", "Lateral Movement"},
	{"TA0009", "Collection"}, {"TA0010", "Exfiltration"}, {"TA0011", "Command and Control"}, {"TA0040", "Impact"},
}

var ecsCategories = []string{"process", "network", "file", "registry", "authentication", "iam", "configuration", "host", "web", "malware"}

var ecsFields = []string{"host.name", "user.name", "process.name", "process.executable", "source.ip", "destination.ip", "destination.port",
	"event.action", "event.outcome", "url.domain", "cloud.account.id", "cloud.region", "file.path", "dns.question.name", "user_agent.original",
	"http.response.status_code", "network.transport", "service.name", "container.id", "kubernetes.pod.name"}

var serviceWords = []string{"audit", "billing", "cluster", "config", "events", "firewall", "flow", "gateway", "inventory", "loadbalancer",
	"metrics", "queue", "registry", "security", "session", "storage", "threat", "usage", "vpn", "waf"}

var proseWords = strings.Fields(`the a of to and in is for on with as by this that from be are an or it at which can when not if
adversary attacker process network host user account credential token access service registry file command execution
persistence privilege escalation defense evasion discovery lateral movement collection exfiltration impact malware
detection alert rule investigate analyst triage response remediation isolate endpoint suspicious unusual legitimate
administrator powershell script binary payload parent child spawn module driver kernel memory injection thread handle
scheduled task cron service daemon startup logon session remote desktop protocol connection traffic domain dns query
certificate encryption key password hash kerberos ticket ldap directory group policy audit log event sequence window
threshold count distinct value field index pattern dataset stream integration agent fleet policy cloud bucket storage
instance cluster node pod container namespace deployment metric latency throughput error rate request response status
dashboard visualization panel chart table gauge metric lens filter time range interval bucket aggregation terms top`)
