// Package progress reports the progress of commands that handle many
// package revisions (sync-v1, mirror, import): a bar on a terminal, plain
// lines otherwise.
package progress

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"pkgstore/internal/pkg/packageid"
)

// Outcome of one revision.
type Outcome string

// Outcomes. Passed is a dry run's success: every check passed, nothing was
// written.
const (
	Published Outcome = "published"
	Present   Outcome = "present"
	Passed    Outcome = "passed"
	Failed    Outcome = "failed"
	// Downloaded: verified and written into an offline bundle (mirror
	// --bundle); nothing was published.
	Downloaded Outcome = "downloaded"
)

// Result of one revision.
type Result struct {
	Dir     string       // what the revision came from (a folder, or NAME-VERSION)
	ID      packageid.ID // the revision
	Outcome Outcome
	Reasons []string // why it failed
	// Bytes is the revision's (uncompressed) size and ZipSize its zip's
	// size (zero when nothing was transferred).
	Bytes   int64
	ZipSize int64
	Elapsed time.Duration
}

// Reporter hears about a run's progress. Its methods are called from one
// goroutine at a time: Start once, Done once per revision in completion
// order, Finish once at the end.
type Reporter interface {
	Start(total int)
	Done(r Result)
	Finish()
}

// LineReporter writes one plain line per revision: for logs and pipes.
type LineReporter struct {
	W io.Writer
	// Name heads the output (the command's name).
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
func (l *LineReporter) Finish() {}

func name(n string) string {
	if n == "" {
		return "progress"
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
	verb, done := "published", b.count[Published]+b.count[Passed]
	if b.count[Downloaded] > 0 {
		verb, done = "downloaded", done+b.count[Downloaded]
	}
	b.bar.Describe(fmt.Sprintf("%s %d, present %d, failed %d, %.1f MB/s",
		verb, done, b.count[Present], b.count[Failed], mbs))
	_ = b.bar.Add(1)
}

// Finish implements Reporter.
func (b *BarReporter) Finish() {
	_ = b.bar.Finish()
	fmt.Fprintln(b.W)
}

// HumanBytes writes n in B, KiB or MiB.
func HumanBytes(n int64) string { return humanBytes(n) }

// WriteOutcomes prints the tail every command's summary shares: how many
// revisions were already present, failed and not done, then every failure
// with its reasons.
func WriteOutcomes(w io.Writer, present, notDone int, failed []Result) {
	fmt.Fprintf(w, "  already present: %d\n", present)
	fmt.Fprintf(w, "  failed:          %d\n", len(failed))
	if notDone > 0 {
		fmt.Fprintf(w, "  not done:        %d (stopped; run again to resume)\n", notDone)
	}
	for _, f := range failed {
		fmt.Fprintf(w, "    %s:\n", f.Dir)
		for _, r := range f.Reasons {
			fmt.Fprintf(w, "      - %s\n", r)
		}
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
