package yank

import (
	"testing"

	"pkgstore/internal/testkit/processtest"
)

// TestMain stops the process-wide fixtures (the shared Azurite of
// storagetest.Backends) after the tests.
func TestMain(m *testing.M) { processtest.Main(m) }
