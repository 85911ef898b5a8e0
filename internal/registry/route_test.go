package registry

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestIsNameMatchesRoutePattern checks the hand-written name check against
// EPR's route pattern on fixed cases and on random strings over an alphabet
// straddling the allowed ranges.
func TestIsNameMatchesRoutePattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[a-z0-9_]+$`)
	cases := []string{"", "nginx", "microsoft_sqlserver", "a", "_", "0", "Nginx", "nginx-1", "ng inx", "é", "nginx/", "`", "{", "/", ":", "@", "[", "\x00"}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "az09_-AZ`{/:@[.\x00\xff"
	for range 5000 {
		b := make([]byte, rng.IntN(6))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if got, want := isName(c), pattern.MatchString(c); got != want {
			t.Errorf("isName(%q) = %v, the pattern says %v", c, got, want)
		}
	}
}
