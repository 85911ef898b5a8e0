package builder

import (
	"context"
	"fmt"
	"os"
	"strings"

	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/validate"
)

// ValidationError is returned when the built package fails the checks the
// publishing job makes (archive limits and package-spec in build mode); no
// zip is left behind.
type ValidationError struct {
	ID       packageid.ID
	Problems []validate.Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "built %s is not valid (%d problem(s))", e.ID, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// validateZip opens the zip at p as the publisher does and validates it in
// build mode.
func validateZip(ctx context.Context, p string, id packageid.ID) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	pkg, err := archive.Open(f, fi.Size(), id, archive.DefaultLimits)
	if err != nil {
		return fmt.Errorf("built %s is refused by the publisher's zip checks: %w", id, err)
	}
	problems, err := validate.Package(ctx, pkg.FS, validate.Options{Mode: validate.ModeBuild})
	if err != nil {
		return fmt.Errorf("validate built %s: %w", id, err)
	}
	if len(problems) > 0 {
		return &ValidationError{ID: id, Problems: problems}
	}
	return nil
}
