package syncv1

import (
	"fmt"
	"io"
	"time"

	"pkgstore/internal/client/progress"
)

// The reporters live in internal/client/progress, shared with mirror and import.
type (
	Outcome      = progress.Outcome
	Result       = progress.Result
	Reporter     = progress.Reporter
	LineReporter = progress.LineReporter
	BarReporter  = progress.BarReporter
)

// Outcomes of a revision.
const (
	Published = progress.Published
	Present   = progress.Present
	Passed    = progress.Passed
	Failed    = progress.Failed
)

var humanBytes = progress.HumanBytes

// WriteSummary prints the final counts and every failure with its reasons.
func (s *Summary) WriteSummary(w io.Writer, dryRun bool) {
	secs := max(s.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "\nsync-v1 summary (%s, %.1f revisions/s, %.1f MB/s of package content):\n",
		s.Elapsed.Round(time.Millisecond), float64(s.Total)/secs, float64(s.Bytes)/1e6/secs)
	if dryRun {
		fmt.Fprintf(w, "  would publish:   %d (dry run: nothing written)\n", s.Passed)
	} else {
		fmt.Fprintf(w, "  published:       %d\n", s.Published)
	}
	progress.WriteOutcomes(w, s.Present, s.NotDone, s.Failed)
}
