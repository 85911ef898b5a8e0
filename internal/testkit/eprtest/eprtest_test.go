package eprtest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/sharedtest"
)

func TestStartServesEPRTestPackages(t *testing.T) {
	pkgs := sharedtest.Dir(t) + "/testdata/epr-packages"
	e := eprtest.Start(t, eprtest.Options{PackagePaths: []string{pkgs}})
	resp, err := http.Get(e.URL + "/search?all=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "[") {
		t.Fatalf("GET /search?all=true: %d %.200s", resp.StatusCode, body)
	}
}
