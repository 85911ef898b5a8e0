package readme

import (
	"strconv"
	"testing"

	"pkgstore/internal/builder/ecs"
)

func itoa(i int) string     { return strconv.Itoa(i) }
func quote(s string) string { return strconv.Quote(s) }

// testExternalFields resolves external fields from the ECS schemas served
// at ecsURL, with a cache of its own.
func testExternalFields(t *testing.T, ecsURL string) ExternalFields {
	return ECSFields(&ecs.Resolver{BaseURL: ecsURL, CacheDir: t.TempDir()})
}
