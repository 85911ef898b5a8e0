package main

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"pkgstore/internal/pkg/validate"
)

func init() { subcommands = append(subcommands, newValidateCmd) }

// validateResult is the JSON shape of one validated path.
type validateResult struct {
	Path     string             `json:"path"`
	Valid    bool               `json:"valid"`
	Problems []validate.Problem `json:"problems"`
	Lines    []string           `json:"lines"`
}

func newValidateCmd() *cobra.Command {
	var format, mode string
	var warningsAsErrors bool
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Validate package folders or built package zips against the package specification",
		Long: `Validate checks each PATH against the package specification (format versions
1.0.0 to 3.7.0-next): folder structure, file schemas, semantic rules and limits.

A PATH is a package folder (the folder holding manifest.yml; validated in
source mode by default: _dev allowed, *.link files resolved and checksum-checked)
or a built zip with exactly one root folder (validated in build mode by default).
Problems excluded by the package's validation.yml errors.exclude_checks are not
reported.

Exit status: 0 when every package is valid, 1 when one is invalid, 2 on usage
errors (bad flags, unreadable or malformed PATH).`,
		Args:          cobra.MinimumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("--format must be text or json, not %q", format)
			}
			switch mode {
			case "", validate.ModeLegacy, validate.ModeSource, validate.ModeBuild:
			default:
				return usageError("--mode must be legacy, source or build, not %q", mode)
			}
			if os.Getenv("PACKAGE_SPEC_WARNINGS_AS_ERRORS") == "true" {
				warningsAsErrors = true
			}
			out := cmd.OutOrStdout()
			var results []validateResult
			invalid := false
			for _, p := range args {
				res, err := validatePath(cmd, p, mode, warningsAsErrors)
				if err != nil {
					var ee *exitError
					if errors.As(err, &ee) {
						return err
					}
					return &exitError{Code: 2, Err: err}
				}
				if !res.Valid {
					invalid = true
				}
				if format == "text" {
					writeTextResult(out, res)
				}
				results = append(results, res)
			}
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return &exitError{Code: 2, Err: err}
				}
			}
			if invalid {
				return &exitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().StringVar(&mode, "mode", "", "validation mode: legacy, source (default for folders) or build (default for zips)")
	cmd.Flags().BoolVar(&warningsAsErrors, "warnings-as-errors", false, "treat package-spec warnings as errors (also PACKAGE_SPEC_WARNINGS_AS_ERRORS=true)")
	return cmd
}

func writeTextResult(w io.Writer, res validateResult) {
	if res.Valid {
		fmt.Fprintf(w, "%s: valid\n", res.Path)
		return
	}
	fmt.Fprintf(w, "%s: %d problem(s)\n", res.Path, len(res.Problems))
	for _, l := range res.Lines {
		fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(l, "\n", "\n    "))
	}
}

func validatePath(cmd *cobra.Command, p, mode string, warn bool) (validateResult, error) {
	res := validateResult{Path: p, Problems: []validate.Problem{}, Lines: []string{}}
	fi, err := os.Stat(p)
	if err != nil {
		return res, usageError("%v", err)
	}
	var (
		fsys fs.FS
		opts = validate.Options{Mode: mode, WarningsAsErrors: warn}
	)
	if fi.IsDir() {
		abs, err := filepath.Abs(p)
		if err != nil {
			return res, usageError("%v", err)
		}
		if opts.Mode == "" {
			opts.Mode = validate.ModeSource
		}
		opts.Dir = abs
		fsys = os.DirFS(abs)
	} else {
		if opts.Mode == "" {
			opts.Mode = validate.ModeBuild
		}
		if opts.Mode == validate.ModeSource {
			return res, usageError("%s: zip files are only supported in legacy or build mode", p)
		}
		zr, err := zip.OpenReader(p)
		if err != nil {
			return res, usageError("%s: not a readable zip: %v", p, err)
		}
		defer zr.Close()
		root, err := zipRoot(&zr.Reader)
		if err != nil {
			return res, usageError("%s: %v", p, err)
		}
		sub, err := fs.Sub(&zr.Reader, root)
		if err != nil {
			return res, usageError("%s: %v", p, err)
		}
		fsys = sub
	}
	problems, err := validate.Package(cmd.Context(), fsys, opts)
	if err != nil {
		return res, fmt.Errorf("%s: %w", p, err)
	}
	res.Valid = len(problems) == 0
	if problems != nil {
		res.Problems = problems
	}
	for _, pr := range problems {
		res.Lines = append(res.Lines, pr.String())
	}
	return res, nil
}

// zipRoot returns the single top-level directory of a zip.
func zipRoot(zr *zip.Reader) (string, error) {
	roots := map[string]bool{}
	for _, f := range zr.File {
		name := strings.TrimPrefix(f.Name, "./")
		if name == "" {
			continue
		}
		top, _, _ := strings.Cut(name, "/")
		if !strings.Contains(name, "/") && !f.FileInfo().IsDir() {
			roots["file:"+top] = true
			continue
		}
		roots[top] = true
	}
	if len(roots) != 1 {
		return "", fmt.Errorf("a single directory is expected in zip file, %d found", len(roots))
	}
	for r := range roots {
		if strings.HasPrefix(r, "file:") || !fs.ValidPath(r) {
			return "", fmt.Errorf("a single directory is expected in zip file, found file %q", strings.TrimPrefix(r, "file:"))
		}
		return r, nil
	}
	return "", errors.New("empty zip file")
}
