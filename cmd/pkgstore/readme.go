package main

import (
	"context"
	"fmt"
	"io"

	"pkgstore/internal/builder/readme"
)

// checkReadmes fails, naming each one, when a committed README differs
// from what its template renders. It writes nothing.
func checkReadmes(ctx context.Context, stdout, stderr io.Writer, dir string, opts readme.Options) error {
	names, err := readme.Templates(dir)
	if err != nil {
		return &exitError{Code: 1, Err: fmt.Errorf("check READMEs of %s: %w", dir, err)}
	}
	if len(names) == 0 {
		fmt.Fprintf(stdout, "%s has no README templates (%s/*.md): nothing to check\n", dir, readme.TemplatesDir)
		return nil
	}
	outdated, err := readme.Check(ctx, dir, opts)
	if err != nil {
		return &exitError{Code: 1, Err: fmt.Errorf("check READMEs of %s: %w", dir, err)}
	}
	if len(outdated) == 0 {
		fmt.Fprintf(stdout, "READMEs of %s are up to date\n", dir)
		return nil
	}
	for _, o := range outdated {
		fmt.Fprintln(stderr, o.String())
	}
	return &exitError{Code: 1, Err: fmt.Errorf("%s: %d README file(s) outdated; run pkgstore build to render them: %w", dir, len(outdated), readme.ErrOutdated)}
}
