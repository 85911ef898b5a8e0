package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/treetest"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// browserIssues collects what must not happen in the browser: console
// errors, uncaught exceptions, log entries of level error (CSP violations,
// failed loads) and requests to /pwned.
type browserIssues struct {
	mu   sync.Mutex
	list []string
}

func (b *browserIssues) add(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.list = append(b.list, fmt.Sprintf(format, args...))
}

func (b *browserIssues) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.list
	b.list = nil
	return l
}

// TestBrowser drives real headless Chromium through the catalog: home,
// search, filters, a package page (README, icon, screenshots), the hostile
// package, dark mode and keyboard focus. Screenshots of each page go to
// $PKGSTORE_SCREENSHOTS (or the test's temporary folder, logged).
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: .ci/run installs Debian's chromium", chromiumPath)
		}
		t.Skipf("browser test skipped: %s not found (apt-get install chromium); in CI (CI=true) this fails instead", chromiumPath)
	}
	var f *fixture
	if sharedtest.Locate() != "" {
		f = v1Store(t)
	} else {
		f = hostileStore(t)
	}
	issues := &browserIssues{}
	handler := f.store.Server.Handler()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/pwned") {
			issues.add("request to %s: a hostile payload ran", r.URL)
		}
		handler.ServeHTTP(w, r)
	}))
	defer site.Close()

	shots := os.Getenv("PKGSTORE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()

	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value))
				}
				issues.add("console.%s: %s", e.Type, strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			issues.add("exception: %s", e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				issues.add("log %s: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("log.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("runtime.enable: %v", err)
	}

	check := func(step string) {
		t.Helper()
		for _, is := range issues.take() {
			t.Errorf("%s: %s", step, is)
		}
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		check(step)
	}
	// navigate runs actions that make the page navigate (a submit, a click
	// on a link) and waits until the new document has loaded: selectors
	// alone could match the old page.
	navigate := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		eval[bool](t, ctx, `window.__oldPage = true`)
		do(step, actions...)
		deadline := time.Now().Add(30 * time.Second)
		for {
			// An evaluation that meets the navigation fails: try again.
			if done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__oldPage !== true && document.readyState === 'complete'`)); err == nil && done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the page did not navigate", step)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// imagesOK reports whether at least min <img> match sel and every one
	// of them loaded with pixels.
	imagesOK := func(sel string, min int) bool {
		t.Helper()
		return eval[bool](t, ctx, fmt.Sprintf(`(() => {
			const imgs = Array.from(document.querySelectorAll(%q));
			return imgs.length >= %d && imgs.every(i => i.complete && i.naturalWidth > 0);
		})()`, sel, min))
	}
	// waitImages waits until the page's images have loaded or failed, lazy
	// ones included.
	waitImages := func() {
		t.Helper()
		eval[bool](t, ctx, `(async () => {
			for (const i of document.images) { i.loading = 'eager'; }
			await Promise.all(Array.from(document.images).map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
			return true;
		})()`, chromedp.EvalAwaitPromise)
	}
	// a11y checks what a page owes keyboard and screen-reader users and
	// low-vision readers: every image has an alt attribute, every control
	// a label, and text of the elements below meets WCAG AA contrast (4.5:1)
	// against the background it is drawn on.
	a11y := func(step string) {
		t.Helper()
		problems := eval[[]string](t, ctx, `(() => {
			const out = [];
			for (const i of document.querySelectorAll('img:not([alt])')) out.push('img without alt: ' + i.src);
			for (const c of document.querySelectorAll('input:not([type=hidden]), select, textarea'))
				if (!c.labels || c.labels.length === 0) out.push('control without label: ' + (c.id || c.name));
			const rgb = s => s.match(/[\d.]+/g).map(Number);
			const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
			const bg = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
			const sel = 'body, a, .muted, .badge, .count, .card-desc, .version, .summary, small, figcaption, .tag, button, .button, input, select, dt, dd, code, h1, h2, h3';
			for (const e of document.querySelectorAll(sel)) {
				if (!e.offsetParent && e !== document.body) continue;
				const a = lum(rgb(getComputedStyle(e).color)), b = lum(bg(e));
				const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
				if (ratio < 4.5) out.push('contrast ' + ratio.toFixed(2) + ': ' + e.tagName + '.' + e.className + ' ' + e.textContent.trim().slice(0, 30));
			}
			return out.slice(0, 10);
		})()`)
		for _, p := range problems {
			t.Errorf("%s: %s", step, p)
		}
	}
	cardTitles := func() string {
		return eval[string](t, ctx, `Array.from(document.querySelectorAll('.card-title')).map(e => e.textContent).join('|')`)
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Home.
	do("home", chromedp.Navigate(site.URL+"/ui/"), chromedp.WaitVisible(css(".cards")))
	waitImages()
	if !imagesOK(".card img", 2) {
		t.Error("home: a card icon did not render")
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('.card').length`); f.v1 && n != 48 || n < 2 {
		t.Errorf("home: %d cards (48 a page)", n)
	}
	// Publication dates from the provenance records, on every card.
	if n := eval[int](t, ctx, `document.querySelectorAll('.card time.published').length - document.querySelectorAll('.card').length`); n != 0 {
		t.Errorf("home: %d cards without a publication date", -n)
	}
	shot("01-home")
	check("home")
	a11y("home")
	if f.v1 {
		// Pages: the v1 sample fills more than one.
		navigate("next page", chromedp.Click(css(`.pages a[rel="next"]`)))
		if text := eval[string](t, ctx, `document.querySelector('.pages').textContent.replace(/\s+/g, ' ').trim() + '|' + document.querySelectorAll('.card').length`); !strings.HasPrefix(text, "Previous Page 2 of 2") || strings.HasSuffix(text, "|0") {
			t.Errorf("page 2: %q", text)
		}
		shot("01a-home-page-2")
		// Ranking: the package named log first; then sorted by name.
		do("search log", chromedp.Navigate(site.URL+"/ui/?q=log"), chromedp.WaitVisible(css(".cards")))
		if first := eval[string](t, ctx, `document.querySelector('.card-link').getAttribute('href')`); !strings.HasPrefix(first, "/ui/package/log/") {
			t.Errorf("q=log: first card %s, want the package log", first)
		}
		shot("02a-search-log-ranked")
		navigate("sort by name", chromedp.SetValue(css("#sort"), "name"), chromedp.Submit(css("#sort")))
		if sorted := eval[string](t, ctx, `(() => { const t = Array.from(document.querySelectorAll('.card-title')).map(e => e.textContent.toLowerCase()); return t.length > 3 && t.every((x, i) => i === 0 || t[i-1] <= x) ? 'sorted' : t.join('|'); })()`); sorted != "sorted" || !strings.Contains(eval[string](t, ctx, `location.search`), "sort=name") {
			t.Errorf("q=log sorted by name: %s", sorted)
		}
		shot("02b-search-log-by-name")
		// Data stream names are searched.
		do("search data stream", chromedp.Navigate(site.URL+"/ui/?q=stubstatus"), chromedp.WaitVisible(css(".cards")))
		if got := eval[string](t, ctx, `Array.from(document.querySelectorAll('.card-link')).map(a => a.getAttribute('href')).join(' ')`); !strings.Contains(got, "/ui/package/nginx/") {
			t.Errorf("q=stubstatus (an nginx data stream): %s", got)
		}
		// So are the field names of a README's exported-fields tables.
		do("search exported field", chromedp.Navigate(site.URL+"/ui/?q=status.uptime.server_uptime"), chromedp.WaitVisible(css(".cards")))
		if got := eval[string](t, ctx, `Array.from(document.querySelectorAll('.card-link')).map(a => a.getAttribute('href')).join(' ')`); !strings.Contains(got, "/ui/package/apache/") {
			t.Errorf("q=status.uptime.server_uptime (a field of apache's README): %s", got)
		}
		shot("02c-search-exported-field")
	}

	// An empty store says how to publish, not that nothing matches.
	empty := startPlain(t, nil)
	do("empty store", chromedp.Navigate(empty.URL+"/ui/"), chromedp.WaitVisible(css(".empty-store")))
	if text := eval[string](t, ctx, `document.querySelector('.results').textContent`); !strings.Contains(text, "pkgstore publish build/packages/NAME-VERSION.zip --registry \""+empty.URL+"\"") || strings.Contains(text, "No package matches") {
		t.Errorf("empty store: %q", text)
	}
	shot("13-empty-store")
	a11y("empty store")

	// A yanked version keeps its page, with a banner and its downloads.
	yankedStore(t, empty)
	do("yanked", chromedp.Navigate(empty.URL+"/ui/package/gone/1.0.0/"), chromedp.WaitVisible(css(".notice-yanked")))
	if text := eval[string](t, ctx, `document.querySelector('.notice-yanked').textContent + '|' + document.querySelector('.notice-yanked time').getAttribute('datetime') + '|' + (document.querySelector('a.button[href$="gone-1.0.0.zip"]') ? 'zip' : 'no zip')`); !strings.Contains(text, "This version was yanked on") || !strings.Contains(text, "Reason: leaks credentials") || !strings.Contains(text, "version 1.1.0") || !strings.HasSuffix(text, "|zip") {
		t.Errorf("yanked page: %q", text)
	}
	shot("14-yanked-version")
	a11y("yanked")
	do("home again", chromedp.Navigate(site.URL+"/ui/"), chromedp.WaitVisible(css(".cards")))

	// Keyboard: the first Tab reaches the skip link, which then shows.
	do("keyboard", chromedp.KeyEvent("\t"))
	if focused := eval[string](t, ctx, `document.activeElement.className + ':' + document.activeElement.getBoundingClientRect().left`); !strings.HasPrefix(focused, "skip:") || strings.HasPrefix(focused, "skip:-") {
		t.Errorf("keyboard: first Tab focused %q, want the visible skip link", focused)
	}

	// Search from the header box.
	navigate("search", chromedp.SendKeys(css("#q"), "good"), chromedp.Submit(css("#q")))
	if got := cardTitles(); got != "Good Package" {
		t.Errorf("search good: cards %q, want Good Package", got)
	}
	if text := eval[string](t, ctx, `document.querySelector('.summary').textContent + '|' + (document.querySelector('.categories a[href*="category=observability"] .count') || {}).ariaLabel`); !strings.HasPrefix(text, "1 of ") || !strings.HasSuffix(text, "|1 package") {
		t.Errorf("search good: summary and count %q, want 1 of N packages and 1 package", text)
	}
	shot("02-search")

	// Filters: prerelease shows the beta of good; a category link narrows;
	// the Kibana version leaves out what does not run on it.
	do("open filtered", chromedp.Navigate(site.URL+"/ui/?q=good"), chromedp.WaitVisible(css("#prerelease")))
	navigate("filter prerelease", chromedp.Click(css("#prerelease")), chromedp.Submit(css("#prerelease")))
	if text := eval[string](t, ctx, `document.querySelector('.card-meta').textContent`); !strings.Contains(text, "1.1.0-beta1") || !strings.Contains(text, "prerelease") {
		t.Errorf("prerelease filter: card says %q, want 1.1.0-beta1 with a prerelease badge", text)
	}
	do("home again", chromedp.Navigate(site.URL+"/ui/"), chromedp.WaitVisible(css(".categories")))
	// The category tree: a subcategory sits under its own parent, even
	// when the parent has no package of its own.
	if prev := eval[string](t, ctx, `(() => { const li = document.querySelector('.categories a[href$="category=custom_logs"]').parentElement; return li.className + '|' + li.previousElementSibling.className + '|' + li.previousElementSibling.querySelector('a').getAttribute('href'); })()`); prev != "sub||/ui/?category=custom" {
		t.Errorf("category tree: Custom Logs is drawn as %q, want a sub right under Custom", prev)
	}
	shot("03a-category-tree")
	navigate("filter category", chromedp.Click(css(`.categories a[href*="category=security"]`)))
	if got := cardTitles(); !strings.Contains(got, "Hostile") || strings.Contains(got, "Good Package") {
		t.Errorf("security category: cards %q", got)
	}
	shot("03-filter-security")
	do("home for kibana", chromedp.Navigate(site.URL+"/ui/"), chromedp.WaitVisible(css("#kibana")))
	navigate("filter kibana", chromedp.SendKeys(css("#kibana"), "7.17.0"), chromedp.SetValue(css("#type"), "integration"), chromedp.Submit(css("#kibana")))
	if sel := eval[string](t, ctx, `document.querySelector('#type').value + ' ' + document.querySelector('#kibana').value`); sel != "integration 7.17.0" {
		t.Errorf("kibana filter: the form shows %q after submitting, want it kept", sel)
	}
	if got := cardTitles(); strings.Contains(got, "Good Package") || !strings.Contains(got, "Hostile") {
		t.Errorf("kibana 7.17.0: cards %q (good needs ^8.0.0)", got)
	}
	shot("04-filter-kibana")

	// Open a package from its card.
	do("search good", chromedp.Navigate(site.URL+"/ui/?q=good"), chromedp.WaitVisible(css(".card-link")))
	navigate("open good", chromedp.Click(css(".card-link")))
	waitImages()
	if text := eval[string](t, ctx, `(document.querySelector('article.markdown table') ? 'table ' : '') + document.querySelector('article.markdown h1').textContent`); text != "table Good" {
		t.Errorf("good README: %q, want a rendered table and the heading Good", text)
	}
	if u := eval[string](t, ctx, `location.pathname`); u != "/ui/package/good/1.0.0/" {
		t.Errorf("the card opened %s", u)
	}
	if !imagesOK(".pkg-head img.icon", 1) {
		t.Error("good: icon did not render")
	}
	if !imagesOK("article.markdown img", 1) {
		t.Error("good: README image did not render")
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('.versions time.published').length`); n < 1 {
		t.Error("good: no publication date in the version list")
	}
	// Exported-fields tables: every name on one line, in monospace.
	fieldNames := func() string {
		return eval[string](t, ctx, `(() => {
			const cells = Array.from(document.querySelectorAll('article.markdown table.fields td:first-child'));
			if (cells.length < 3) return 'only ' + cells.length + ' field names';
			const bad = [];
			for (const c of cells) {
				const r = document.createRange(); r.selectNodeContents(c);
				const lines = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size;
				if (lines !== 1) bad.push(c.textContent + ' on ' + lines + ' lines');
				if (!/mono/.test(getComputedStyle(c).fontFamily)) bad.push(c.textContent + ' not monospace');
			}
			return bad.join('; ');
		})()`)
	}
	if bad := fieldNames(); bad != "" {
		t.Errorf("good: exported fields: %s", bad)
	}
	// The licence is the package's own (source.license); the subscription
	// is labelled as such.
	if facts := eval[string](t, ctx, `Array.from(document.querySelectorAll('.pkg-head .facts dt')).map(dt => dt.textContent + '=' + dt.nextElementSibling.textContent).join('|')`); !strings.Contains(facts, "License=Elastic-2.0") || !strings.Contains(facts, "Subscription=basic") {
		t.Errorf("good: facts %q, want License=Elastic-2.0 and Subscription=basic", facts)
	}
	shot("05-package-good")
	check("good")
	a11y("good")

	// The hostile package: nothing runs, its own images render.
	do("hostile", chromedp.Navigate(site.URL+"/ui/package/hostile/1.0.0/"), chromedp.WaitVisible(css("#screenshots")))
	waitImages()
	shot("06-package-hostile")
	if pwned := eval[string](t, ctx, `String(window.__pwned)`); pwned != "undefined" {
		t.Errorf("hostile: window.__pwned = %q: a payload ran", pwned)
	}
	for _, c := range []struct {
		sel string
		min int
	}{{".pkg-head img.icon", 1}, {"#screenshots img", 2}, {"article.markdown img", 1}} {
		if !imagesOK(c.sel, c.min) {
			t.Errorf("hostile: %s did not render", c.sel)
		}
	}
	if text := eval[string](t, ctx, `document.querySelector('h1').textContent`); !strings.Contains(text, "<script>") {
		t.Errorf("hostile: title %q should show the markup as text", text)
	}
	check("hostile")
	a11y("hostile")

	// A real package with screenshots; then dark and narrow screens.
	if f.v1 {
		do("nginx", chromedp.Navigate(site.URL+"/ui/package/nginx/"), chromedp.WaitVisible(css("#screenshots")))
		waitImages()
		if !imagesOK("#screenshots img", 2) || !imagesOK(".pkg-head img.icon", 1) {
			t.Error("nginx: icon or screenshots did not render")
		}
		shot("07-package-nginx")
		check("nginx")
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	do("dark", chromedp.Navigate(site.URL+"/ui/package/good/1.0.0/"), chromedp.WaitVisible(css("#readme")))
	waitImages()
	if bg := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); bg == "rgb(255, 255, 255)" {
		t.Error("dark: the page stayed white")
	}
	shot("08-package-dark")
	a11y("dark package")
	do("dark home", chromedp.Navigate(site.URL+"/ui/"), chromedp.WaitVisible(css(".cards")))
	waitImages()
	shot("09-home-dark")
	a11y("dark home")
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ url, name string }{{"/ui/package/hostile/1.0.0/", "10-package-mobile"}, {"/ui/", "11-home-mobile"}, {"/ui/package/good/1.0.0/", "12-fields-mobile"}} {
		do("narrow "+p.url, chromedp.Navigate(site.URL+p.url), chromedp.WaitVisible(css("footer")))
		waitImages()
		if w := eval[string](t, ctx, `document.documentElement.scrollWidth + ' ' + screen.width`); strings.Split(w, " ")[0] != strings.Split(w, " ")[1] {
			// Name the text that sticks out.
			wide := eval[string](t, ctx, `(() => { const out = []; const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); let n; while ((n = w.nextNode())) { const r = document.createRange(); r.selectNodeContents(n); const b = r.getBoundingClientRect(); if (b.right > screen.width) out.push(n.parentElement.tagName + '.' + n.parentElement.className + ':' + Math.round(b.right) + ' ' + n.textContent.slice(0, 50)); } return out.slice(0, 6).join(' | '); })()`)
			t.Errorf("narrow %s: page width %s: it scrolls sideways (too wide: %s)", p.url, w, wide)
		}
		if strings.Contains(p.url, "good") {
			if bad := fieldNames(); bad != "" {
				t.Errorf("narrow good: exported fields: %s", bad)
			}
			if sw := eval[bool](t, ctx, `(() => { const t = document.querySelector('table.fields'); return t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX === 'auto'; })()`); !sw {
				t.Error("narrow good: the fields table does not scroll sideways")
			}
		}
		shot(p.name)
		check("narrow " + p.url)
	}
}

// yankedStore publishes gone 1.0.0 and 1.1.0 into s, yanks 1.0.0 and
// waits until the index has dropped it.
func yankedStore(t *testing.T, s *servertest.Store) {
	t.Helper()
	dir := t.TempDir()
	m := func(v string) string {
		return "format_version: 1.0.0\nname: gone\ntitle: Gone\ndescription: Soon withdrawn\nversion: " + v + "\ntype: integration\nrelease: ga\nlicense: basic\n"
	}
	treetest.Write(t, dir, map[string]string{
		"gone/1.0.0/manifest.yml": m("1.0.0"), "gone/1.0.0/docs/README.md": "# Gone\n",
		"gone/1.1.0/manifest.yml": m("1.1.0"), "gone/1.1.0/docs/README.md": "# Gone\n",
	})
	publishFolders(t, s, dir)
	if _, _, err := s.Server.Yanks.Set(context.Background(), yank.Change{ID: packageid.ID{Name: "gone", Version: "1.0.0"}, Yank: true, Reason: "leaks credentials"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, b := s.Get(t, "/search?package=gone&all=true"); code == 200 && !strings.Contains(string(b), `"1.0.0"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the yank never left the index")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eval runs a script in the page and returns its value.
func eval[T any](t *testing.T, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("evaluate %.60q: %v", expr, err)
	}
	return v
}
