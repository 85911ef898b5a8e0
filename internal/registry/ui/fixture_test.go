package ui_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"pkgstore/internal/server"
	"pkgstore/internal/testkit/processtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/treetest"
)

// The store the handler, browser and benchmark read is filled once per test
// binary through the real publishing job: the v1 sample (when ../shared is
// there) plus hostile packages written here.

// TestMain stops the shared store once every test and benchmark is done.
func TestMain(m *testing.M) { processtest.Main(m) }

type fixture struct {
	store *servertest.Store
	v1    bool // the v1 sample is published
}

var (
	storeOnce sync.Once
	storeFix  *fixture
	v1Once    sync.Once
	v1Fix     *fixture
)

// hostileStore holds only the hostile and well-behaved test packages.
func hostileStore(t testing.TB) *fixture {
	t.Helper()
	storeOnce.Do(func() {
		tb := processtest.Wrap(t)
		s := servertest.Start(tb, servertest.Options{Memory: true})
		dir := tb.TempDir()
		writeTestPackages(tb, dir)
		publishFolders(tb, s, dir)
		storeFix = &fixture{store: s}
	})
	if storeFix == nil {
		t.Fatal("the test store could not be built (see the first test that asked for it)")
	}
	return storeFix
}

// v1Store holds the v1 sample's 269 revisions plus the test packages;
// skips when ../shared is absent.
func v1Store(t testing.TB) *fixture {
	t.Helper()
	sharedtest.Archive(t, sharedtest.V1Sample)
	v1Once.Do(func() {
		tb := processtest.Wrap(t)
		s := servertest.Start(tb, servertest.Options{Memory: true})
		publishFolders(tb, s, filepath.Join(sharedtest.UnpackV1(tb), "packages"))
		dir := tb.TempDir()
		writeTestPackages(tb, dir)
		publishFolders(tb, s, dir)
		v1Fix = &fixture{store: s, v1: true}
	})
	if v1Fix == nil {
		t.Fatal("the v1 store could not be built (see the first test that asked for it)")
	}
	return v1Fix
}

// pngImage returns a real w x h PNG.
func pngImage(tb testing.TB, w, h int, c color.Color) string {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.String()
}

// Every payload that would run sets window.__pwned or asks the server for
// /pwned; the browser test checks neither happened.
const hostileReadme = "# Hostile README\n\n" +
	"<script>window.__pwned = 'script'</script>\n\n" +
	"<img src=\"x\" onerror=\"window.__pwned='onerror'\">\n\n" +
	"<img src=\"https://evil.example/pwned.png\" alt=\"remote image\">\n\n" +
	"![inline data](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+)\n\n" +
	"[click me](javascript:window.__pwned='link')\n\n" +
	"<a href=\"JaVaScRiPt:window.__pwned='upper'\">upper-case scheme</a>\n\n" +
	"<a href=\"data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;\">data link</a>\n\n" +
	"<svg onload=\"window.__pwned='svg'\"><circle r=\"4\"/></svg>\n\n" +
	"<iframe src=\"/pwned\"></iframe>\n\n" +
	"<form action=\"/pwned\"><input name=x></form>\n\n" +
	"<div style=\"background:url(/pwned)\">styled</div>\n\n" +
	"<object data=\"/pwned\"></object>\n\n" +
	"| column | other |\n|---|---|\n| <b onclick=\"window.__pwned='td'\">bold</b> | [ok](https://www.elastic.co/) |\n\n" +
	"![Dashboard](../img/shot.png)\n\n" +
	"![Other package](/package/good/1.0.0/img/icon.png)\n"

const evilSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 48 48">` +
	`<script>window.top.__pwned='svgscript'; fetch('/pwned')</script>` +
	`<rect width="48" height="48" fill="#c33" onload="fetch('/pwned')"/></svg>`

func writeTestPackages(tb testing.TB, dir string) {
	treetest.Write(tb, dir, map[string]string{
		"hostile/1.0.0/manifest.yml": `format_version: 1.0.0
name: hostile
title: "Hostile <script>window.__pwned='title'</script>"
description: "Tries <img src=x onerror=window.__pwned=1> everything"
version: 1.0.0
release: beta
type: integration
license: basic
categories: [security]
owner:
  github: "evil\" onmouseover=\"window.__pwned=1"
icons:
  - src: /img/evil.svg
    type: image/svg+xml
screenshots:
  - src: /img/shot.png
    title: "Dashboard <b>overview</b>"
    size: 320x200
    type: image/png
  - src: /img/evil.svg
    title: Vector screenshot
    type: image/svg+xml
conditions:
  kibana.version: "^7.16.0 || ^8.0.0"
policy_templates:
  - name: hostile
    title: Hostile template
    description: "<script>window.__pwned='pt'</script>"
    inputs:
      - type: logfile
        title: Log files
        description: Collect <b>logs</b>
`,
		"hostile/1.0.0/docs/README.md": hostileReadme,
		"hostile/1.0.0/img/evil.svg":   evilSVG,
		"hostile/1.0.0/img/shot.png":   pngImage(tb, 320, 200, color.RGBA{40, 120, 200, 255}),
		"hostile/1.0.0/changelog.yml": `- version: "1.0.0"
  changes:
    - description: "<script>window.__pwned='changelog'</script> first"
      type: enhancement
      link: "javascript:window.__pwned='changelog-link'"
- version: "0.9.0"
  changes:
    - description: Earlier
      type: bugfix
      link: https://github.com/elastic/integrations/pull/1
`,
		"good/1.0.0/manifest.yml":         goodManifest("1.0.0", "ga"),
		"good/1.0.0/docs/README.md":       "# Good\n\nA well-behaved package.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![Logo](../img/icon.png)\n\n" + fieldsTable,
		"good/1.0.0/img/icon.png":         pngImage(tb, 64, 64, color.RGBA{20, 160, 90, 255}),
		"good/1.1.0-beta1/manifest.yml":   goodManifest("1.1.0-beta1", "beta"),
		"good/1.1.0-beta1/docs/README.md": "# Good beta\n",
		"good/1.1.0-beta1/img/icon.png":   pngImage(tb, 64, 64, color.RGBA{20, 160, 90, 255}),
	})
}

// fieldsTable is an exported-fields table as elastic-package writes it
// into a README, with names long enough to be squeezed by a narrow page.
const fieldsTable = "**Exported fields**\n\n| Field | Description | Type | Unit |\n|---|---|---|---|\n" +
	"| @timestamp | Event timestamp. | date |  |\n" +
	"| aws.cloudwatch.metrics.ApproximateNumberOfMessagesNotVisible.avg | The number of messages that are in flight, averaged over the period, as reported by the queue. | long | s |\n" +
	"| kubernetes.container.status.last_terminated_reason | The reason the container was last terminated. | keyword |  |\n"

func goodManifest(version, release string) string {
	return `format_version: 1.0.0
name: good
title: Good Package
description: A well-behaved observability package
version: ` + version + `
release: ` + release + `
type: integration
license: basic
source:
  license: Elastic-2.0
categories: [observability, custom_logs]
owner:
  github: elastic/integrations
icons:
  - src: /img/icon.png
    type: image/png
conditions:
  kibana.version: "^8.0.0"
`
}

// get fetches url from the store without following redirects.
func get(t testing.TB, base, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// startPlain starts a store with cfg edits and no packages.
func startPlain(t *testing.T, edit func(*server.Config)) *servertest.Store {
	return servertest.Start(t, servertest.Options{Memory: true, Configure: edit})
}

var _ = strings.Contains
