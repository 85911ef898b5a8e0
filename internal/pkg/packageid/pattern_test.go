package packageid

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// The package-spec's patterns, which IsName and IsStrictSemver implement
// by hand.
var (
	namePattern   = regexp.MustCompile(`^[a-z0-9_]+$`)
	semverPattern = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+)?$`)
)

// randomStrings returns fixed cases and n seeded random strings over
// alphabet (short, so that the interesting shapes come up often).
func randomStrings(fixed []string, alphabet string, maxLen, n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	out := append([]string(nil), fixed...)
	for range n {
		b := make([]byte, rng.IntN(maxLen+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		out = append(out, string(b))
	}
	return out
}

func TestIsNameMatchesPattern(t *testing.T) {
	cases := randomStrings([]string{"", "nginx", "microsoft_sqlserver", "_", "0", "Nginx", "nginx-1", "ng inx", "é", "nginx/", "`", "{", "/", ":", "@", "[", "\x00", "nginx\n"},
		"az09_-AZ`{/:@[.\x00\xff\n", 6, 20000)
	for _, c := range cases {
		if got, want := IsName(c), namePattern.MatchString(c); got != want {
			t.Errorf("IsName(%q) = %v, the pattern says %v", c, got, want)
		}
	}
}

func TestIsStrictSemverMatchesPattern(t *testing.T) {
	fixed := []string{
		"", "1.0.0", "0.0.0", "10.20.30", "1.0.0-beta", "1.0.0-beta.1", "1.0.0-0.3.7", "1.0.0--", "1.0.0-a-b.c-d",
		"1.0.0+build", "1.0.0-rc.1+b-1", "1.0.0+b.1", "01.0.0", "1.00.0", "1.0.00", "1.0", "1", "1.0.0.", "1.0.0-",
		"1.0.0-.a", "1.0.0-a.", "1.0.0-a..b", "1.0.0+", "1.0.0++a", "1.0.0-a+", "v1.0.0", " 1.0.0", "1.0.0 ", "1.0.0\n",
		"1.0.0-ä", "1.0.0-01", "1.0.0+01", "1..0", ".1.0.0", "1.0.0-a+b+c", "1.0.0+a-b",
	}
	for _, c := range randomStrings(fixed, "0123.-+aZ\n", 12, 200000) {
		if got, want := IsStrictSemver(c), semverPattern.MatchString(c); got != want {
			t.Errorf("IsStrictSemver(%q) = %v, the pattern says %v", c, got, want)
		}
	}
}

// FuzzIsStrictSemver compares the hand-written matcher with the pattern on
// any input.
func FuzzIsStrictSemver(f *testing.F) {
	for _, s := range []string{"1.0.0", "1.0.0-rc.1+b", "01.0.0", "1.0.0-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsStrictSemver(s), semverPattern.MatchString(s); got != want {
			t.Fatalf("IsStrictSemver(%q) = %v, the pattern says %v", s, got, want)
		}
		if got, want := IsName(s), namePattern.MatchString(s); got != want {
			t.Fatalf("IsName(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
