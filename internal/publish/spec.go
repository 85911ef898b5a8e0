package publish

import (
	"context"
	"io/fs"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/validate"
)

// ValidateSpec is package-spec validation (build mode) as a ValidateFunc:
// what serve's workers and `pkgstore job publish` both run.
func ValidateSpec(ctx context.Context, fsys fs.FS) ([]api.Reason, error) {
	problems, err := validate.Package(ctx, fsys, validate.Options{Mode: "build"})
	if err != nil {
		return nil, err
	}
	out := make([]api.Reason, 0, len(problems))
	for _, p := range problems {
		msg := p.Message
		if p.Field != "" {
			msg = "field " + p.Field + ": " + msg
		}
		out = append(out, api.Reason{Check: api.CheckSpec, File: p.File, Message: msg, Code: p.Code})
	}
	return out, nil
}
