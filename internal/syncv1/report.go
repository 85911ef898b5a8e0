package syncv1

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// LineReporter writes one plain line per revision: for logs and pipes.
type LineReporter struct {
	W io.Writer
	// Name heads the output (default "sync-v1"); other commands reuse the
	// reporters under their own name.
	Name  string
	total int
	n     int
}

// Start implements Reporter.
func (l *LineReporter) Start(total int) {
	l.total = total
	fmt.Fprintf(l.W, "%s: %d revisions\n", name(l.Name), total)
}

// Done implements Reporter.
func (l *LineReporter) Done(r Result) {
	l.n++
	fmt.Fprintf(l.W, "[%*d/%d] %s\n", len(fmt.Sprint(l.total)), l.n, l.total, describe(r))
}

// Finish implements Reporter.
func (l *LineReporter) Finish(*Summary) {}

func name(n string) string {
	if n == "" {
		return "sync-v1"
	}
	return n
}

func describe(r Result) string {
	switch r.Outcome {
	case Failed:
		return fmt.Sprintf("FAILED    %s: %s", r.Dir, strings.Join(r.Reasons, "; "))
	case Present:
		return fmt.Sprintf("present   %s", r.ID)
	default:
		return fmt.Sprintf("%-9s %s (%s, zip %s, %s)", r.Outcome, r.ID, humanBytes(r.Bytes), humanBytes(r.ZipSize), r.Elapsed.Round(time.Millisecond))
	}
}

// BarReporter draws a progress bar with counts, throughput and ETA: for
// terminals. Failures are printed above the bar as they happen.
type BarReporter struct {
	W     io.Writer
	Name  string // as LineReporter's
	bar   *progressbar.ProgressBar
	start time.Time
	bytes int64
	count map[Outcome]int
}

// Start implements Reporter.
func (b *BarReporter) Start(total int) {
	b.start = time.Now()
	b.count = map[Outcome]int{}
	b.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(b.W),
		progressbar.OptionSetDescription(name(b.Name)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rev"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// Done implements Reporter.
func (b *BarReporter) Done(r Result) {
	b.count[r.Outcome]++
	b.bytes += r.Bytes
	if r.Outcome == Failed {
		_ = b.bar.Clear()
		fmt.Fprintln(b.W, describe(r))
	}
	mbs := float64(b.bytes) / 1e6 / max(time.Since(b.start).Seconds(), 1e-3)
	b.bar.Describe(fmt.Sprintf("published %d, present %d, failed %d, %.1f MB/s",
		b.count[Published]+b.count[Passed], b.count[Present], b.count[Failed], mbs))
	_ = b.bar.Add(1)
}

// Finish implements Reporter.
func (b *BarReporter) Finish(*Summary) {
	_ = b.bar.Finish()
	fmt.Fprintln(b.W)
}

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
	fmt.Fprintf(w, "  already present: %d\n", s.Present)
	fmt.Fprintf(w, "  failed:          %d\n", len(s.Failed))
	if s.NotDone > 0 {
		fmt.Fprintf(w, "  not done:        %d (stopped; run again to resume)\n", s.NotDone)
	}
	for _, f := range s.Failed {
		fmt.Fprintf(w, "    %s:\n", f.Dir)
		for _, r := range f.Reasons {
			fmt.Fprintf(w, "      - %s\n", r)
		}
	}
}

// HumanBytes writes n in B, KiB or MiB.
func HumanBytes(n int64) string { return humanBytes(n) }

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
