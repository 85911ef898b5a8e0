// Package loadtest drives a registry with Kibana Fleet's request mix and
// measures it: requests per second and latency percentiles per route,
// non-2xx answers and transport errors. Targets are discovered from the
// registry's own /search, so any store can be measured as it is.
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrRemote refuses a target that is not on a loopback interface unless
// Options.AllowRemote is set: a load test is an attack on whoever answers.
var ErrRemote = errors.New("target is not a loopback address")

// Options of a run. Either Duration or Requests ends it (both: whichever
// comes first).
type Options struct {
	Target      string // base URL of the registry
	Duration    time.Duration
	Requests    int
	Concurrency int
	// KibanaVersion is the kibana.version Fleet sends.
	KibanaVersion string
	// AcceptEncoding is sent with every request ("" sends none); Fleet's
	// Node client sends "gzip, deflate, br".
	AcceptEncoding string
	AllowRemote    bool
	Seed           uint64
	// Client overrides the HTTP client (tests; TLS roots).
	Client *http.Client
}

// Route names, in report order.
const (
	RouteSearch     = "search"
	RouteCategories = "categories"
	RoutePackage    = "package"
	RouteReadme     = "readme"
	RouteIcon       = "icon"
	RouteZip        = "zip"
	RouteSignature  = "signature"
)

// mix is Fleet's request mix as weights: listing and one-package
// searches, categories, package pages (document, README, icons), and
// installs (zip and signature).
var mix = []struct {
	route  string
	weight int
}{
	{RouteSearch, 30},
	{RouteCategories, 10},
	{RoutePackage, 25},
	{RouteReadme, 10},
	{RouteIcon, 10},
	{RouteZip, 10},
	{RouteSignature, 5},
}

// Targets are the paths discovered for each route.
type Targets map[string][]string

// CheckTarget returns ErrRemote unless target's host resolves only to
// loopback addresses (or allowRemote).
func CheckTarget(ctx context.Context, target string, allowRemote bool) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("target %q: want http://HOST:PORT or https://HOST:PORT", target)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else if ips, err = net.DefaultResolver.LookupIP(ctx, "ip", host); err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%w: %s is %s (pass --allow-remote to load a remote registry)", ErrRemote, host, ip)
		}
	}
	return nil
}

// searchItem is what discovery reads of a /search result.
type searchItem struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	Path          string `json:"path"`
	Download      string `json:"download"`
	SignaturePath string `json:"signature_path"`
	Icons         []struct {
		Path string `json:"path"`
	} `json:"icons"`
}

// Discover reads /search?all=true&prerelease=true and the documents of up
// to 200 packages (for their README paths) and returns the paths of every
// route.
func Discover(ctx context.Context, c *http.Client, base, kibana string) (Targets, error) {
	var items []searchItem
	if err := getJSON(ctx, c, base+"/search?all=true&prerelease=true", &items); err != nil {
		return nil, fmt.Errorf("discover packages: %w", err)
	}
	if len(items) == 0 {
		return nil, errors.New("discover packages: the registry lists none")
	}
	t := Targets{}
	add := func(route, p string) {
		if p != "" {
			t[route] = append(t[route], p)
		}
	}
	for _, it := range items {
		// /search lists /package/N/V; Fleet asks for /package/N/V/ (the
		// former is a 301 to the latter).
		if it.Path != "" && !strings.HasSuffix(it.Path, "/") {
			it.Path += "/"
		}
		add(RoutePackage, it.Path)
		add(RouteZip, it.Download)
		add(RouteSignature, it.SignaturePath)
		for _, ic := range it.Icons {
			add(RouteIcon, ic.Path)
		}
	}
	// Fleet's searches: the integrations listing with and without
	// prerelease (capabilities and spec range as Kibana 8.x sends them),
	// and one-package lookups.
	k := url.QueryEscape(kibana)
	for _, pre := range []string{"false", "true"} {
		add(RouteSearch, "/search?prerelease="+pre+"&kibana.version="+k+"&capabilities=apm,observability,security&spec.min=1.0&spec.max=3.5")
		add(RouteSearch, "/search?prerelease="+pre+"&kibana.version="+k)
	}
	names := map[string]bool{}
	for _, it := range items {
		if !names[it.Name] && len(names) < 50 {
			names[it.Name] = true
			add(RouteSearch, "/search?package="+url.QueryEscape(it.Name)+"&prerelease=true&kibana.version="+k)
		}
	}
	add(RouteCategories, "/categories?prerelease=false&kibana.version="+k+"&include_policy_templates=true")
	add(RouteCategories, "/categories?prerelease=true&kibana.version="+k)
	// README paths are only in the documents.
	for i, p := range t[RoutePackage] {
		if i >= 200 {
			break
		}
		var doc struct {
			Readme string `json:"readme"`
		}
		if err := getJSON(ctx, c, base+p, &doc); err != nil {
			return nil, fmt.Errorf("discover %s: %w", p, err)
		}
		add(RouteReadme, doc.Readme)
	}
	return t, nil
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// RouteStats are the measurements of one route.
type RouteStats struct {
	Route     string
	Requests  int
	Non2xx    int
	Errors    int
	Bytes     int64
	PerSecond float64
	P50       time.Duration
	P95       time.Duration
	P99       time.Duration
	Max       time.Duration
}

// Result of a run.
type Result struct {
	Elapsed   time.Duration
	Requests  int
	PerSecond float64
	Routes    []RouteStats // in mix order, routes without targets left out
	// FirstErrors holds a few transport errors and non-2xx answers, to
	// say what went wrong.
	FirstErrors []string
}

type sample struct {
	route string
	took  time.Duration
	code  int
	bytes int64
	err   error
}

// Run discovers the targets and drives them.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := CheckTarget(ctx, o.Target, o.AllowRemote); err != nil {
		return nil, err
	}
	if o.Duration <= 0 && o.Requests <= 0 {
		return nil, errors.New("give a duration or a number of requests")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.KibanaVersion == "" {
		o.KibanaVersion = "8.15.0"
	}
	base := strings.TrimSuffix(o.Target, "/")
	c := o.Client
	if c == nil {
		c = &http.Client{
			Transport: &http.Transport{
				MaxIdleConnsPerHost: o.Concurrency,
				DisableCompression:  true, // measure the bytes on the wire, do not decode them
			},
			// A redirect is an answer of its own (counted as non-2xx),
			// not a second request hidden in the first one's latency.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		defer c.CloseIdleConnections()
	}
	t, err := Discover(ctx, c, base, o.KibanaVersion)
	if err != nil {
		return nil, err
	}
	return Drive(ctx, c, base, t, o)
}

// Drive sends the mix over targets until the duration or count is reached.
func Drive(ctx context.Context, c *http.Client, base string, t Targets, o Options) (*Result, error) {
	type weighted struct {
		route string
		upTo  int
	}
	var table []weighted
	total := 0
	for _, m := range mix {
		if len(t[m.route]) > 0 {
			total += m.weight
			table = append(table, weighted{m.route, total})
		}
	}
	if total == 0 {
		return nil, errors.New("no targets")
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var issued atomic.Int64
	results := make([][]sample, o.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(o.Seed, uint64(w)))
			for ctx.Err() == nil {
				if o.Requests > 0 && issued.Add(1) > int64(o.Requests) {
					return
				}
				x := rng.IntN(total)
				i := sort.Search(len(table), func(i int) bool { return table[i].upTo > x })
				route := table[i].route
				paths := t[route]
				s := do(ctx, c, base+paths[rng.IntN(len(paths))], o.AcceptEncoding)
				if errors.Is(s.err, context.DeadlineExceeded) || errors.Is(s.err, context.Canceled) {
					return // the run ended mid-request: not a failure
				}
				s.route = route
				results[w] = append(results[w], s)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return summarize(results, elapsed), nil
}

func do(ctx context.Context, c *http.Client, u, accept string) sample {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return sample{err: err}
	}
	if accept != "" {
		req.Header.Set("Accept-Encoding", accept)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return sample{err: err, took: time.Since(start)}
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return sample{took: time.Since(start), code: resp.StatusCode, bytes: n, err: err}
}

func summarize(results [][]sample, elapsed time.Duration) *Result {
	by := map[string][]sample{}
	res := &Result{Elapsed: elapsed}
	for _, rs := range results {
		for _, s := range rs {
			by[s.route] = append(by[s.route], s)
			if (s.err != nil || s.code/100 != 2) && len(res.FirstErrors) < 5 {
				if s.err != nil {
					res.FirstErrors = append(res.FirstErrors, s.route+": "+s.err.Error())
				} else {
					res.FirstErrors = append(res.FirstErrors, fmt.Sprintf("%s: HTTP %d", s.route, s.code))
				}
			}
		}
	}
	for _, m := range mix {
		ss := by[m.route]
		if len(ss) == 0 {
			continue
		}
		st := RouteStats{Route: m.route, Requests: len(ss), PerSecond: float64(len(ss)) / elapsed.Seconds()}
		lat := make([]time.Duration, 0, len(ss))
		for _, s := range ss {
			switch {
			case s.err != nil:
				st.Errors++
			case s.code/100 != 2:
				st.Non2xx++
			}
			st.Bytes += s.bytes
			lat = append(lat, s.took)
		}
		slices.Sort(lat)
		st.P50, st.P95, st.P99, st.Max = pct(lat, 50), pct(lat, 95), pct(lat, 99), lat[len(lat)-1]
		res.Routes = append(res.Routes, st)
		res.Requests += st.Requests
	}
	res.PerSecond = float64(res.Requests) / elapsed.Seconds()
	return res
}

// pct is the nearest-rank percentile of sorted latencies.
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// WriteText writes the result as a table.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%-11s %9s %10s %9s %9s %9s %9s %7s %6s %9s\n", "route", "requests", "req/s", "p50", "p95", "p99", "max", "non2xx", "errors", "MB/s")
	var bytes int64
	var non2xx, errs int
	for _, s := range r.Routes {
		fmt.Fprintf(w, "%-11s %9d %10.1f %9s %9s %9s %9s %7d %6d %9.1f\n", s.Route, s.Requests, s.PerSecond, ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max), s.Non2xx, s.Errors, float64(s.Bytes)/r.Elapsed.Seconds()/1e6)
		bytes += s.Bytes
		non2xx += s.Non2xx
		errs += s.Errors
	}
	fmt.Fprintf(w, "%-11s %9d %10.1f %9s %9s %9s %9s %7d %6d %9.1f\n", "total", r.Requests, r.PerSecond, "", "", "", "", non2xx, errs, float64(bytes)/r.Elapsed.Seconds()/1e6)
	fmt.Fprintf(w, "elapsed %s\n", r.Elapsed.Round(time.Millisecond))
	for _, e := range r.FirstErrors {
		fmt.Fprintln(w, "first failures:", e)
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
