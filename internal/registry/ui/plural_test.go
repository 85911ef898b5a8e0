package ui_test

import (
	"testing"

	"pkgstore/internal/registry/ui"
)

func TestCount(t *testing.T) {
	for _, c := range []struct {
		n     int
		forms []string
		want  string
	}{
		{0, []string{"package"}, "0 packages"},
		{1, []string{"package"}, "1 package"},
		{2, []string{"version"}, "2 versions"},
		{1, []string{"image that is", "images that are"}, "1 image that is"},
		{3, []string{"image that is", "images that are"}, "3 images that are"},
	} {
		if got := ui.Count(c.n, c.forms[0], c.forms[1:]...); got != c.want {
			t.Errorf("count(%d, %q) = %q, want %q", c.n, c.forms, got, c.want)
		}
	}
}
