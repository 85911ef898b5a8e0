// Package syncv1 migrates Package Storage v1 into a v2 store: every
// revision folder packages/NAME/VERSION/ of a v1 branch checkout that the
// store does not have yet is zipped (deterministically, root folder
// NAME-VERSION/), signed and published as a legacy package.
//
// The migration is idempotent and resumable: each revision is checked with
// the HEAD probe every publisher uses before anything is built, so a rerun
// (or a run after an interruption) publishes only what is missing. A broken
// revision is reported and skipped; it never stops the others.
package syncv1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/builder"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
)

// Config of a migration.
type Config struct {
	// Source is the v1 checkout: the folder holding packages/.
	Source string
	// Client talks to the v2 registry (HEAD probe and publishing API).
	Client *client.Client
	// Key signs every zip. Nil submits unsigned candidates, which a store
	// that requires signatures refuses.
	Key *signature.SigningKey
	// Workers is the number of revisions handled at once (default
	// DefaultParallel). Each is probed, zipped, signed, uploaded and
	// waited for on its own, so the registry's publishing workers and its
	// group-committed syncs are kept busy while the next zips are built.
	Workers int
	// DryRun asks the store to run every check and write nothing.
	DryRun bool
	// TempDir holds the zips being published (default os.TempDir()).
	TempDir string
	// Reporter, if set, hears about the migration's progress.
	Reporter Reporter
}

// Summary of a migration.
type Summary struct {
	Total     int
	Published int
	Present   int
	Passed    int
	Failed    []Result // in folder order
	NotDone   int      // revisions not handled because the migration stopped
	Bytes     int64    // uncompressed bytes of the revisions built
	ZipBytes  int64    // bytes of the zips sent
	Elapsed   time.Duration
}

// OK reports whether no revision failed.
func (s *Summary) OK() bool { return len(s.Failed) == 0 }

// DefaultParallel is the default Config.Workers: enough revisions in flight
// to overlap building and signing with the registry's publishing job.
const DefaultParallel = 4

// ErrFatal wraps errors that make every further revision pointless (the
// registry refuses the token, the source is not a v1 checkout): Run stops
// on them.
var ErrFatal = errors.New("migration stopped")

// Revisions lists the revision folders packages/NAME/VERSION of a v1
// checkout, relative to src, in lexical order. Hidden folders and CI
// leftovers ("NAME@tmp") are ignored.
func Revisions(src string) ([]string, error) {
	root := filepath.Join(src, "packages")
	names, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a v1 checkout: %w", ErrFatal, src, err)
	}
	var out []string
	for _, n := range names {
		if !n.IsDir() || skipFolder(n.Name()) {
			continue
		}
		versions, err := os.ReadDir(filepath.Join(root, n.Name()))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", n.Name(), err)
		}
		for _, v := range versions {
			if v.IsDir() && !skipFolder(v.Name()) {
				out = append(out, filepath.Join("packages", n.Name(), v.Name()))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func skipFolder(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "@tmp")
}

// Run migrates every revision of cfg.Source. The error is non-nil only when
// the migration could not run to its end (ErrFatal, a cancelled ctx); the
// failures of single revisions are in the summary.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.Client == nil {
		return nil, errors.New("syncv1: no registry client")
	}
	start := time.Now()
	dirs, err := Revisions(cfg.Source)
	if err != nil {
		return nil, err
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = DefaultParallel
	}
	workers = min(workers, max(len(dirs), 1))
	if cfg.Reporter != nil {
		cfg.Reporter.Start(len(dirs))
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	ws := make([]*worker, 0, workers)
	for range workers {
		w, err := newWorker(cfg)
		if err != nil {
			for _, w := range ws {
				w.close()
			}
			return nil, err
		}
		ws = append(ws, w)
	}
	jobs := make(chan int)
	results := make(chan workResult)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			defer w.close()
			for i := range jobs {
				r := w.revision(ctx, dirs[i])
				r.index = i
				if r.fatal != nil {
					cancel(r.fatal)
				} else if r.Outcome == Failed && ctx.Err() != nil {
					// Cut short by cancellation: not a failure of its own,
					// simply not done.
					r.cancelled = true
				}
				results <- r
			}
		})
	}
	// The feeder stops when every folder is handed out or ctx is done;
	// results is closed once the workers have drained.
	wg.Go(func() {
		defer close(jobs)
		for i := range dirs {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(results)
		close(done)
	}()
	defer func() { <-done }()

	sum := &Summary{}
	byDir := map[string]int{}
	for i, d := range dirs {
		byDir[d] = i
	}
	// Results arrive in completion order; the reporter hears them in
	// folder order (a reorder buffer), so the report is the same whatever
	// the parallelism.
	pending := map[int]workResult{}
	next := 0
	report := func(wr workResult) {
		if !wr.cancelled && cfg.Reporter != nil {
			cfg.Reporter.Done(wr.Result)
		}
	}
	for wr := range results {
		pending[wr.index] = wr
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			report(r)
		}
		if wr.cancelled {
			continue
		}
		r := wr.Result
		sum.Total++
		sum.Bytes += r.Bytes
		sum.ZipBytes += r.ZipSize
		switch r.Outcome {
		case Published:
			sum.Published++
		case Present:
			sum.Present++
		case Passed:
			sum.Passed++
		case Failed:
			sum.Failed = append(sum.Failed, r)
		}
	}
	// A stopped migration leaves gaps: report what came back, in order.
	rest := make([]int, 0, len(pending))
	for i := range pending {
		rest = append(rest, i)
	}
	sort.Ints(rest)
	for _, i := range rest {
		report(pending[i])
	}
	sort.Slice(sum.Failed, func(i, j int) bool { return byDir[sum.Failed[i].Dir] < byDir[sum.Failed[j].Dir] })
	sum.Elapsed = time.Since(start)
	sum.NotDone = len(dirs) - sum.Total
	if cfg.Reporter != nil {
		cfg.Reporter.Finish()
	}
	if err := context.Cause(ctx); err != nil {
		return sum, err
	}
	return sum, nil
}

// worker owns one zip buffer, reused for every revision it builds.
type worker struct {
	cfg Config
	zip zipBuf
	sig bytes.Buffer
}

func newWorker(cfg Config) (*worker, error) {
	// Fail now, not at the first large revision, if TempDir is unusable.
	f, err := os.CreateTemp(cfg.TempDir, "pkgstore-syncv1-*.zip")
	if err != nil {
		return nil, fmt.Errorf("%w: temporary zip: %w", ErrFatal, err)
	}
	f.Close()
	os.Remove(f.Name())
	return &worker{cfg: cfg, zip: zipBuf{dir: cfg.TempDir, limit: MemZipLimit}}, nil
}

func (w *worker) close() { w.zip.Close() }

type workResult struct {
	Result
	index     int   // of the folder in Revisions' order
	fatal     error // stops the migration
	cancelled bool  // failed only because the migration was stopped
}

func (w *worker) revision(ctx context.Context, dir string) (res workResult) {
	start := time.Now()
	res.Dir = filepath.ToSlash(dir)
	res.ID = packageid.ID{Name: filepath.Base(filepath.Dir(dir)), Version: filepath.Base(dir)}
	defer func() { res.Elapsed = time.Since(start) }()
	fail := func(format string, args ...any) workResult {
		res.Outcome = Failed
		res.Reasons = append(res.Reasons, fmt.Sprintf(format, args...))
		return res
	}
	full := filepath.Join(w.cfg.Source, dir)
	id, err := builder.V1ID(full)
	if err != nil {
		return fail("broken revision: %v", err)
	}
	var present bool
	err = retry(ctx, func() (err error) {
		present, err = w.cfg.Client.Published(ctx, id)
		return err
	})
	if err != nil {
		if unreachable(err) {
			res.fatal = fmt.Errorf("%w: registry unreachable: %w", ErrFatal, err)
		}
		return fail("already-published check: %v", err)
	}
	if present {
		res.Outcome = Present
		return res
	}

	// Build into the worker's buffer, sign, publish.
	w.zip.Reset()
	st, err := builder.Write(ctx, &w.zip, full, id, builder.Options{Legacy: true})
	if err == nil {
		err = w.zip.Finish()
	}
	if err != nil {
		return fail("build zip: %v", err)
	}
	res.Bytes = st.Bytes
	res.ZipSize = w.zip.Size()
	var sig []byte
	if w.cfg.Key != nil {
		w.sig.Reset()
		if err := w.cfg.Key.Sign(&w.sig, w.zip.Reader()); err != nil {
			return fail("sign: %v", err)
		}
		sig = w.sig.Bytes()
	}
	var sub *api.Submission
	err = retry(ctx, func() (err error) {
		sub, present, err = client.PublishLegacy(ctx, w.cfg.Client, id.ZipName(), w.zip.Reader(), sig, client.Options{DryRun: w.cfg.DryRun})
		if refused := (*client.RefusedError)(nil); errors.As(err, &refused) {
			return nil // an outcome, not a failure to retry
		}
		return err
	})
	if err != nil {
		var apiErr *client.APIError
		switch {
		case errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden):
			res.fatal = fmt.Errorf("%w: %w", ErrFatal, err)
		case unreachable(err):
			res.fatal = fmt.Errorf("%w: registry unreachable: %w", ErrFatal, err)
		}
		return fail("publish: %v", err)
	}
	switch {
	case present:
		// Someone published it between our check and our upload.
		res.Outcome = Present
	case sub.Status == api.StatusPublished:
		res.Outcome = Published
	case sub.Status == api.StatusPassed:
		res.Outcome = Passed
	case sub.Status == api.StatusRejected:
		for _, r := range sub.Reasons {
			res.Reasons = append(res.Reasons, r.String())
		}
		if len(res.Reasons) == 0 {
			res.Reasons = []string{"rejected without a reason"}
		}
		res.Outcome = Failed
	default:
		return fail("publish: submission %s ended as %q", sub.ID, sub.Status)
	}
	return res
}

// Retries of transient failures (connection errors, 408, 429, 5xx). A
// repeated publication is harmless: the store refuses a duplicate, which
// counts as present.
var (
	attempts = client.DefaultRetry.Attempts
	backoff  = client.DefaultRetry.Backoff
)

func retry(ctx context.Context, f func() error) error {
	return client.Retry{Attempts: attempts, Backoff: backoff}.Do(ctx, f)
}

// unreachable: when a transport failure outlasts the retries, every other
// revision would fail the same way, so the migration stops (a rerun
// resumes it).
var unreachable = client.Unreachable
