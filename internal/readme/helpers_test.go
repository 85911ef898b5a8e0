package readme

import (
	"strconv"
	"testing"
)

func itoa(i int) string     { return strconv.Itoa(i) }
func quote(s string) string { return strconv.Quote(s) }

// testExternalFields resolves external fields for tests. Until the ECS
// resolver lands, none.
func testExternalFields(t *testing.T, ecsURL string) ExternalFields { return nil }
