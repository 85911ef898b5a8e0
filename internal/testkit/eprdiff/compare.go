package eprdiff

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Request is one request sent, as written, to both registries.
type Request struct {
	// Method defaults to GET.
	Method string
	// Target is the path and query exactly as sent on the request line
	// (not cleaned, not re-escaped), e.g. "/search?package=foo".
	Target string
}

// Key names a request in reports and known-difference lists:
// "METHOD TARGET".
func (r Request) Key() string {
	m := r.Method
	if m == "" {
		m = http.MethodGet
	}
	return m + " " + r.Target
}

// Answer is what one registry sent.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// ComparedHeaders are the response headers that must be equal on both
// sides: what Fleet reads and what caches and browsers act on. Every other
// header is either per response (Date) or one of our documented deviations
// (see Deviations).
var ComparedHeaders = []string{
	"Content-Type",
	"Content-Length",
	"Cache-Control",
	"Location",
	"Access-Control-Allow-Origin",
	"Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers",
	"Access-Control-Expose-Headers",
	"Access-Control-Allow-Credentials",
	"Access-Control-Max-Age",
	"Vary",
	"Content-Encoding",
	"Content-Disposition",
	"X-Content-Type-Options",
}

// Deviations are the response headers we send on purpose where EPR does
// not (or sends differently); docs/registry.md lists each with its reason
// (TestDeviationsDocumented keeps the two in step). They are ignored; any
// other header outside ComparedHeaders must be absent on both sides or
// equal.
var Deviations = map[string]string{
	"Etag":                    "strong validator for artifacts and static files (objects are write-once)",
	"Accept-Ranges":           "Range requests on artifacts and static files",
	"Last-Modified":           "modification time of the bucket object (EPR: the zip entry's or file's time)",
	"Content-Security-Policy": "static package files are untrusted: a directly opened SVG or HTML file must not run script in the registry's origin",
}

// BodyDeviations are request targets whose bodies differ on purpose (their
// status and headers are still compared), with the reason.
var BodyDeviations = map[string]string{
	"/favicon.ico": "our own icon: Elastic's artwork is not copied",
}

// perResponse headers differ on every answer by nature.
var perResponse = map[string]bool{"Date": true}

// Diff is one request whose answers differ.
type Diff struct {
	Request Request
	What    string // compact, readable
}

// Report counts a comparison.
type Report struct {
	Corpus    string
	Compared  int
	Identical int
	Diffs     []Diff // in request order
}

// WriteFile writes every difference, one per line ("KEY\tWHAT"), for
// reading or for seeding a known-differences list.
func (r *Report) WriteFile(name string) error {
	var b strings.Builder
	for _, d := range r.Diffs {
		fmt.Fprintf(&b, "%s\t%s\n", d.Request.Key(), d.What)
	}
	return os.WriteFile(name, []byte(b.String()), 0o644)
}

// Merge returns one report holding every difference of reps, each
// description prefixed with its report's corpus name: for checking a known
// list once over several steps.
func Merge(name string, reps ...*Report) *Report {
	out := &Report{Corpus: name}
	for _, r := range reps {
		out.Compared += r.Compared
		out.Identical += r.Identical
		for _, d := range r.Diffs {
			out.Diffs = append(out.Diffs, Diff{Request: d.Request, What: "[" + r.Corpus + "] " + d.What})
		}
	}
	return out
}

// String is a one-line summary.
func (r *Report) String() string {
	return fmt.Sprintf("%s: %d requests compared, %d identical, %d differ", r.Corpus, r.Compared, r.Identical, len(r.Diffs))
}

// noRedirects sees 301s instead of following them and leaves bodies as
// sent (no transparent gzip).
var noRedirects = &http.Client{
	Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       time.Minute,
}

// Fetch sends r to the registry at base (http://host:port) exactly as
// written, asking for identity encoding.
func Fetch(ctx context.Context, base string, r Request) (*Answer, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	path, query, _ := strings.Cut(r.Target, "?")
	// Opaque makes the request line carry path as written: no cleaning,
	// no re-escaping of spaces or brackets the test chose to send.
	u.Opaque = path
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, method, "", nil)
	if err != nil {
		return nil, err
	}
	req.URL = u
	req.Host = u.Host
	// No Accept-Encoding (and DisableCompression keeps Go from adding
	// one): EPR never compresses, and our answers to a client that asks
	// for a coding differ on purpose (docs/registry.md, compression).
	resp, err := noRedirects.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, r.Target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, r.Target, err)
	}
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Diff sends every request to both sides (a few at a time) and reports
// what differs, without failing anything.
func (p *Pair) Diff(ctx context.Context, reqs []Request) (*Report, error) {
	if p.Ref == nil {
		return nil, fmt.Errorf("eprdiff: %s has no reference", p.Corpus.Name)
	}
	return DiffURLs(ctx, p.Corpus.Name, p.Ours.URL, p.Ref.URL, reqs)
}

// DiffURLs compares two registries by URL: ours and the reference.
func DiffURLs(ctx context.Context, name, ours, ref string, reqs []Request) (*Report, error) {
	whats := make([]string, len(reqs))
	errs := make([]error, len(reqs))
	inParallel(len(reqs), func(i int) {
		r := reqs[i]
		a, err := Fetch(ctx, ours, r)
		if err != nil {
			errs[i] = fmt.Errorf("ours: %w", err)
			return
		}
		b, err := Fetch(ctx, ref, r)
		if err != nil {
			errs[i] = fmt.Errorf("reference: %w", err)
			return
		}
		if _, ok := BodyDeviations[r.Target]; ok && len(a.Body) > 0 && len(b.Body) > 0 {
			a.Body, b.Body = nil, nil
			a.Header.Del("Content-Length")
			b.Header.Del("Content-Length")
		}
		whats[i] = Explain(a, b)
	})
	rep := &Report{Corpus: name, Compared: len(reqs)}
	for i, r := range reqs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if whats[i] == "" {
			rep.Identical++
			continue
		}
		rep.Diffs = append(rep.Diffs, Diff{Request: r, What: whats[i]})
	}
	return rep, nil
}

// Compare is Diff that fails tb on transport errors and logs the summary;
// call Expect on the report to assert.
func (p *Pair) Compare(tb testing.TB, reqs []Request) *Report {
	tb.Helper()
	rep, err := p.Diff(context.Background(), reqs)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Log(rep.String())
	// EPRDIFF_REPORT=DIR writes each report to DIR/CORPUS-TEST.txt.
	if dir := os.Getenv("EPRDIFF_REPORT"); dir != "" {
		name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(rep.Corpus+"-"+tb.Name())+".txt")
		if err := rep.WriteFile(name); err != nil {
			tb.Errorf("write report: %v", err)
		}
	}
	return rep
}

// Known are differences a test tolerates for now, each with its reason:
// exact request keys, and patterns matched against the description of a
// difference (for a cause that shows in many answers, such as one field of
// the package document repeated in every /search body).
type Known struct {
	Requests map[string]string // Request.Key() -> reason
	Patterns map[string]string // substring of "KEY<TAB>WHAT" -> reason
}

// LoadKnown reads known-differences files into one list: one entry per
// line, "METHOD TARGET<TAB>reason" or "~SUBSTRING<TAB>reason" (matched
// against "METHOD TARGET<TAB>description of the difference"); blank lines
// and lines starting with # are ignored. A missing file is an empty list.
func LoadKnown(tb testing.TB, names ...string) Known {
	tb.Helper()
	k := Known{Requests: map[string]string{}, Patterns: map[string]string{}}
	for _, name := range names {
		k.load(tb, name)
	}
	return k
}

func (k Known) load(tb testing.TB, name string) {
	tb.Helper()
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		tb.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, reason, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(reason) == "" {
			tb.Fatalf("%s:%d: want KEY<TAB>reason", name, i+1)
		}
		if p, ok := strings.CutPrefix(key, "~"); ok {
			k.Patterns[p] = reason
		} else {
			k.Requests[key] = reason
		}
	}
}

// Expect fails tb for every difference not in known, and for every known
// entry that no difference matched (a stale entry: the list only
// shrinks).
func (r *Report) Expect(tb testing.TB, known Known) {
	tb.Helper()
	usedReq := map[string]bool{}
	usedPat := map[string]bool{}
	shown := 0
	for _, d := range r.Diffs {
		k := d.Request.Key()
		if _, ok := known.Requests[k]; ok {
			usedReq[k] = true
			continue
		}
		matched := false
		line := k + "\t" + d.What
		for p := range known.Patterns {
			if strings.Contains(line, p) {
				usedPat[p] = true
				matched = true
			}
		}
		if matched {
			continue
		}
		if shown < 40 {
			tb.Errorf("%s: %s", k, d.What)
		}
		shown++
	}
	if shown > 40 {
		tb.Errorf("... and %d more differences", shown-40)
	}
	var stale []string
	for k := range known.Requests {
		if !usedReq[k] {
			stale = append(stale, k)
		}
	}
	for p := range known.Patterns {
		if !usedPat[p] {
			stale = append(stale, "~"+p)
		}
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		if len(stale) > 20 {
			stale = append(stale[:20], "...")
		}
		tb.Errorf("known differences no longer seen (remove them from the list): %s", strings.Join(stale, "; "))
	}
}

// Explain describes how answer a (ours) differs from b (the reference), or
// returns "" when they are the same.
func Explain(a, b *Answer) string {
	var parts []string
	if a.Status != b.Status {
		parts = append(parts, fmt.Sprintf("status %d, reference %d", a.Status, b.Status))
	}
	if h := headerDiff(a.Header, b.Header); h != "" {
		parts = append(parts, h)
	}
	if !bytes.Equal(a.Body, b.Body) {
		parts = append(parts, "body: "+BodyDiff(a.Body, b.Body))
	}
	return strings.Join(parts, "; ")
}

func headerDiff(a, b http.Header) string {
	var keys []string
	for _, k := range unionKeys(a, b) {
		if perResponse[k] {
			continue
		}
		// Framing, not content: a body EPR streams past net/http's
		// buffer goes out chunked, ours (ready bytes) with a length.
		// Equal bodies are checked byte for byte anyway.
		if k == "Content-Length" && (a.Get(k) == "" || b.Get(k) == "") {
			continue
		}
		if _, ok := Deviations[k]; ok {
			continue
		}
		keys = append(keys, k)
	}
	var out []string
	for _, k := range keys {
		va, vb := strings.Join(a.Values(k), ", "), strings.Join(b.Values(k), ", ")
		if va != vb || len(a.Values(k)) != len(b.Values(k)) {
			out = append(out, fmt.Sprintf("%s %q, reference %q", k, va, vb))
		}
	}
	return strings.Join(out, "; ")
}

// BodyDiff describes two different bodies compactly: the first differing
// JSON path when both are JSON, else the first differing byte offset with
// a little context on each side.
func BodyDiff(a, b []byte) string {
	var ja, jb any
	if json.Unmarshal(a, &ja) == nil && json.Unmarshal(b, &jb) == nil {
		if p := jsonDiff("$", ja, jb); p != "" {
			return p
		}
		// Same values, other bytes: order or formatting.
		return "same JSON value, different bytes: " + byteDiff(a, b)
	}
	return byteDiff(a, b)
}

func byteDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-30, 0)
	return fmt.Sprintf("%d and %d bytes, first difference at byte %d: %q vs reference %q",
		len(a), len(b), i, clip(a, lo, i+40), clip(b, lo, i+40))
}

func clip(b []byte, lo, hi int) string {
	return string(b[min(lo, len(b)):min(hi, len(b))])
}

// jsonDiff returns the first path where a and b differ, with both values
// (abridged), or "".
func jsonDiff(path string, a, b any) string {
	switch va := a.(type) {
	case map[string]any:
		vb, ok := b.(map[string]any)
		if !ok {
			return valueDiff(path, a, b)
		}
		for _, k := range unionKeys(va, vb) {
			p := path + "." + k
			if strings.ContainsAny(k, ". []") {
				p = fmt.Sprintf("%s[%q]", path, k)
			}
			x, okA := va[k]
			y, okB := vb[k]
			switch {
			case !okA:
				return fmt.Sprintf("%s: missing, reference %s", p, abridge(y))
			case !okB:
				return fmt.Sprintf("%s: %s, absent in reference", p, abridge(x))
			}
			if d := jsonDiff(p, x, y); d != "" {
				return d
			}
		}
		return ""
	case []any:
		vb, ok := b.([]any)
		if !ok {
			return valueDiff(path, a, b)
		}
		for i := 0; i < len(va) && i < len(vb); i++ {
			if d := jsonDiff(fmt.Sprintf("%s[%d]", path, i), va[i], vb[i]); d != "" {
				return d
			}
		}
		if len(va) != len(vb) {
			return fmt.Sprintf("%s: %d elements, reference %d", path, len(va), len(vb))
		}
		return ""
	default:
		if a != b {
			return valueDiff(path, a, b)
		}
		return ""
	}
}

// unionKeys returns the keys of a and b, each once, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.AppendSeq(slices.Collect(maps.Keys(a)), maps.Keys(b))
	slices.Sort(keys)
	return slices.Compact(keys)
}

func valueDiff(path string, a, b any) string {
	return fmt.Sprintf("%s: %s, reference %s", path, abridge(a), abridge(b))
}

func abridge(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:117]) + "..."
	}
	return string(b)
}

// zipEntryNames lists a zip's entry names in archive order.
func zipEntryNames(data []byte) ([]string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read zip: %w", err)
	}
	names := make([]string, len(zr.File))
	for i, f := range zr.File {
		names[i] = f.Name
	}
	return names, nil
}
