package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/govern/tokens"
)

// TestHealthShowsTokensFile: the tokens file's state was only in the logs.
// /health?verbose=true now shows it (loaded or not, why, how many tokens,
// never a secret or a name); a broken file keeps /health at 200, since
// reads are served and publishing fails closed (issue 21 item 9).
func TestHealthShowsTokensFile(t *testing.T) {
	s, _ := governedStore(t)
	path := s.Server.Tokens.Path()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	named := strings.Count(string(good), "- name:")
	health := func() (int, tokens.Health, string) {
		t.Helper()
		resp, err := http.Get(s.URL + "/health?verbose=true")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var h struct {
			Tokens *tokens.Health `json:"tokens"`
		}
		if err := json.Unmarshal(body, &h); err != nil || h.Tokens == nil {
			t.Fatalf("health body %s: %v, no tokens", body, err)
		}
		return resp.StatusCode, *h.Tokens, string(body)
	}
	wait := func(what string, loaded bool) (tokens.Health, string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, h, body := health()
			if code != http.StatusOK {
				t.Fatalf("%s: /health answers %d, want 200 (reads still served)\n%s", what, code, body)
			}
			if h.Loaded == loaded {
				return h, body
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: tokens loaded %v, want %v\n%s", what, h.Loaded, loaded, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	h, _ := wait("at start", true)
	if !h.File || h.NamedTokens != named || h.PublishTokens != 1 || h.Error != "" || h.Since == nil {
		t.Fatalf("at start: %+v, want a loaded file with %d named tokens and 1 --publish-token", h, named)
	}
	// A secret pasted where a list belongs: yaml.v3 quotes it in its error.
	const pasted = "s3cr3t-pasted-by-mistake"
	if err := os.WriteFile(path, []byte("tokens:\n  - name: oops\n    scopes: "+pasted+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, body := wait("broken file", false)
	if h.Error == "" || h.NamedTokens != 0 || h.PublishTokens != 1 || !h.File {
		t.Fatalf("broken file: %+v", h)
	}
	if strings.Contains(body, pasted) || strings.Contains(body, "oops") {
		t.Fatalf("/health shows the file's values:\n%s", body)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, h, _ = health(); !strings.Contains(h.Error, "no such file"); _, h, _ = health() {
		if time.Now().After(deadline) {
			t.Fatalf("deleted file: %+v", h)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if h, _ = wait("restored", true); h.NamedTokens != named || h.Error != "" {
		t.Fatalf("restored: %+v", h)
	}
}
