package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"pkgstore/internal/readme"
)

// readmeOptions is where README rendering finds what lies outside the
// package: external field definitions and the links table.
func readmeOptions(linksFile string) readme.Options {
	return readme.Options{LinksFile: linksFile, Fields: readmeFields()}
}

// readmeFields resolves `external` fields for the fields function.
func readmeFields() readme.ExternalFields { return nil }

// renderReadmes renders dir's _dev/build/docs/*.md into dir/docs/, as
// elastic-package's build does, and says what it wrote.
func renderReadmes(ctx context.Context, w io.Writer, dir string, opts readme.Options) error {
	rs, err := readme.Update(ctx, dir, opts)
	if err != nil {
		return fmt.Errorf("render READMEs of %s: %w", dir, err)
	}
	for _, r := range rs {
		fmt.Fprintf(w, "rendered %s\n", filepath.Join(dir, readme.DocsDir, r.Name))
	}
	return nil
}

// checkReadmes fails, naming each one, when a committed README differs
// from what its template renders. It writes nothing.
func checkReadmes(ctx context.Context, stdout, stderr io.Writer, dir string, opts readme.Options) error {
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
