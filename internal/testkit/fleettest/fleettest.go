// Package fleettest verifies packages as Kibana Fleet does, with Fleet's
// own libraries (openpgp.js 5 and node-fetch 2 from .ci/npm, found by
// nodetest): the one key of xpack.fleet.packageVerification.gpgKeyPath
// read with readKey, each zip and its .zip.sig fetched over HTTP,
// verified when the first signature's verified promise resolves.
package fleettest

import (
	_ "embed"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"pkgstore/internal/testkit/nodetest"
)

//go:embed verify.mjs
var script []byte

// Result is Fleet's verdict on one zip URL.
type Result struct {
	URL      string `json:"url"`
	Verified bool   `json:"verified"`
	// SigningKeyID is the key id the first signature names.
	SigningKeyID string `json:"signing_key_id"`
	Error        string `json:"error"`
}

// Report is one run: the key as Fleet read it, and a result per URL.
type Report struct {
	KeyError string   `json:"key_error"`
	KeyID    string   `json:"key_id"`
	Results  []Result `json:"results"`
}

// Verify runs Fleet's verification of each zip URL (its signature at
// URL.sig) with the armored public key file keyFile, as a Kibana started
// with gpgKeyPath: keyFile would. It skips the test when node or the npm
// packages are missing (fails under CI=true).
func Verify(t testing.TB, keyFile string, urls ...string) Report {
	t.Helper()
	modules := nodetest.Modules(t, "openpgp", "node-fetch")
	path := filepath.Join(t.TempDir(), "fleet-verify.mjs")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", append([]string{path, modules, keyFile}, urls...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node fleet-verify: %v", err)
	}
	var r Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("fleet-verify output %q: %v", out, err)
	}
	if len(r.Results) != len(urls) {
		t.Fatalf("fleet-verify: %d results for %d URLs", len(r.Results), len(urls))
	}
	return r
}

// AllVerified fails the test unless every URL verified with keyFile; what
// names the moment (a rotation step) in the failure.
func AllVerified(t testing.TB, what, keyFile string, urls ...string) {
	t.Helper()
	r := Verify(t, keyFile, urls...)
	if r.KeyError != "" {
		t.Fatalf("%s: Fleet cannot read the key %s: %s", what, keyFile, r.KeyError)
	}
	for _, res := range r.Results {
		if !res.Verified {
			t.Errorf("%s: Fleet with %s (key %s) does not verify %s (signed by %s): %s", what, filepath.Base(keyFile), r.KeyID, res.URL, res.SigningKeyID, res.Error)
		}
	}
}
