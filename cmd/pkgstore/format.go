package main

import (
	"github.com/spf13/pflag"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/client/progress"
	"pkgstore/internal/client/syncv1"
)

// addFormat registers --format text|json, one style for every command:
// json is one document on stdout, progress and logs go to stderr.
func addFormat(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "format", "text", "text or json (one JSON document on stdout; progress and notes on stderr)")
}

func checkFormat(format string) error {
	if format != "text" && format != "json" {
		return usageError("--format must be text or json, got %q", format)
	}
	return nil
}

// failedRevision is one failed revision of a run's JSON.
type failedRevision struct {
	Revision string   `json:"revision"`
	Reasons  []string `json:"reasons"`
}

func failedOf(rs []progress.Result) []failedRevision {
	out := []failedRevision{}
	for _, r := range rs {
		out = append(out, failedRevision{Revision: r.Dir, Reasons: r.Reasons})
	}
	return out
}

// runReport is the JSON document of mirror, import and sync-v1.
type runReport struct {
	Command        string           `json:"command"`
	DryRun         bool             `json:"dry_run,omitempty"`
	Selection      string           `json:"selection,omitempty"`
	Selected       int              `json:"selected"`
	Published      int              `json:"published"`
	Downloaded     int              `json:"downloaded,omitempty"`
	Present        int              `json:"present"`
	Failed         []failedRevision `json:"failed"`
	NotDone        int              `json:"not_done"`
	Bytes          int64            `json:"bytes"`
	ElapsedSeconds float64          `json:"elapsed_seconds"`
	Bundle         string           `json:"bundle,omitempty"`
	BundleSize     int64            `json:"bundle_size,omitempty"`
	BundleUpToDate bool             `json:"bundle_up_to_date,omitempty"`
	Planned        []plannedJSON    `json:"planned,omitempty"`
	Error          string           `json:"error,omitempty"`
	ExitCode       int              `json:"exit_code"`
}

type plannedJSON struct {
	Revision string `json:"revision"`
	Present  bool   `json:"present"`
	Size     int64  `json:"size"`
}

func mirrorReport(name string, s *mirror.Summary, dryRun bool, bundle string) runReport {
	r := runReport{Command: name, DryRun: dryRun, Failed: []failedRevision{}}
	if s == nil {
		return r
	}
	r.Selection, r.Selected, r.Present, r.NotDone = s.SearchURL, s.Selected, s.Present, s.NotDone
	r.Failed, r.Bytes, r.ElapsedSeconds = failedOf(s.Failed), s.Bytes, s.Elapsed.Seconds()
	if bundle != "" && !dryRun {
		r.Downloaded = s.Transferred
		r.Bundle, r.BundleSize, r.BundleUpToDate = bundle, s.BundleSize, s.BundleUpToDate
	} else if !dryRun {
		r.Published = s.Transferred
	}
	for _, p := range s.Planned {
		r.Planned = append(r.Planned, plannedJSON{Revision: p.ID().String(), Present: p.Present, Size: p.Size})
	}
	return r
}

func syncReport(s *syncv1.Summary, dryRun bool) runReport {
	r := runReport{Command: "sync-v1", DryRun: dryRun, Failed: []failedRevision{}}
	if s == nil {
		return r
	}
	r.Selected, r.Published, r.Present, r.NotDone = s.Total, s.Published+s.Passed, s.Present, s.NotDone
	r.Bytes, r.ElapsedSeconds = s.ZipBytes, s.Elapsed.Seconds()
	for _, f := range s.Failed {
		r.Failed = append(r.Failed, failedRevision{Revision: f.Dir, Reasons: f.Reasons})
	}
	return r
}

// buildReport is build --format json's document.
type buildReport struct {
	Path      string `json:"path"`
	Files     int    `json:"files"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Signature string `json:"signature,omitempty"`
	SignedBy  string `json:"signed_by,omitempty"`
}
