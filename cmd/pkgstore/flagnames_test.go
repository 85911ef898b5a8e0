package main

import (
	"testing"

	"github.com/spf13/cobra"
)

// TestOneFlagNamePerIdea: issue 26 found --packages beside --package, sign
// --key beside --sign-key and --registry as build's upstream. The new
// names exist; the old ones are kept hidden and deprecated for one release
// and set the same value.
func TestOneFlagNamePerIdea(t *testing.T) {
	find := func(path ...string) *cobra.Command {
		c, _, err := newRootCmd().Find(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tt := range []struct {
		cmd      []string
		old, new string
		value    string
	}{
		{[]string{"token", "create"}, "packages", "package", "aws*"},
		{[]string{"sign"}, "key", "sign-key", "k.asc"},
		{[]string{"build"}, "registry", "input-registry", "http://upstream"},
		{[]string{"build"}, "registry-keyring", "input-registry-keyring", "up.asc"},
	} {
		c := find(tt.cmd...)
		old, nw := c.Flags().Lookup(tt.old), c.Flags().Lookup(tt.new)
		if old == nil || nw == nil {
			t.Errorf("%v: --%s or --%s missing", tt.cmd, tt.old, tt.new)
			continue
		}
		if !old.Hidden || old.Deprecated == "" || nw.Hidden {
			t.Errorf("%v: --%s hidden %v deprecated %q; --%s hidden %v", tt.cmd, tt.old, old.Hidden, old.Deprecated, tt.new, nw.Hidden)
		}
		if err := c.Flags().Set(tt.old, tt.value); err != nil {
			t.Fatal(err)
		}
		if got := nw.Value.String(); got != tt.value && got != "["+tt.value+"]" {
			t.Errorf("%v: --%s set %q, --%s reads %q", tt.cmd, tt.old, tt.value, tt.new, got)
		}
	}
}
