package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/translog"
	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/storage"
)

// ValidateFunc runs package-spec validation on a package root and returns
// its problems; err is for I/O failures only.
type ValidateFunc func(ctx context.Context, fsys fs.FS) ([]api.Reason, error)

// Config of a Publisher.
type Config struct {
	Buckets *storage.Buckets
	// Keyring holds the trusted keys. Signatures, when given, must verify
	// against it.
	Keyring *signature.Keyring
	// StoreKey, if set, is the store's own signing key: once the owner's
	// signature has verified against Keyring, the store signs the zip
	// with it and serves that signature, keeping the owner's in the
	// revision's provenance, so that one public key (Kibana's
	// gpgKeyPath) verifies every package whoever signed it. Unsigned
	// candidates stay unsigned: the store vouches only for what an owner
	// signed.
	StoreKey *signature.SigningKey
	// RequireSignatures refuses unsigned candidates.
	RequireSignatures bool
	Limits            archive.Limits
	// MaxZipSize bounds a candidate zip's size (compressed).
	MaxZipSize int64
	// Validate is package-spec validation, skipped for legacy candidates.
	// Nil means no spec validation.
	Validate ValidateFunc
	// CheckDocument, if set, reports why a registry could not load a
	// package document (EPR loads an index all or nothing); a document it
	// refuses refuses the candidate, legacy or not. The server sets the
	// registry catalog's check (catalog.Check), as it does the indexer's.
	CheckDocument func(index.Entry) error
	// Shadowed, if set, reports whether NAME-VERSION is served from
	// elsewhere (a package path, read-only) and where: such a revision is
	// refused as a duplicate, since a published copy would take its place.
	Shadowed func(packageid.ID) (string, bool)
	// Workers is the number of candidates processed at once (default
	// DefaultWorkers).
	Workers int
	// OnPublished is called after each publication (to schedule indexing).
	OnPublished func(packageid.ID)
	Logger      *slog.Logger
	// TempDir holds candidate zips while they are checked.
	TempDir string
	// ClaimWait is how long a candidate waits for another submission of
	// the same NAME-VERSION to finish before it is refused.
	ClaimWait time.Duration
	// OnFinished, if set, is called when a submission reaches a final
	// status, with the time the worker spent on it (metrics).
	OnFinished func(s *api.Submission, took time.Duration)
	// AfterStep, if set, is called after every write step of a publication
	// with the step's name; tests use it to inject crashes.
	AfterStep func(step string)
	// ShutdownGrace is how long the submissions in progress when Run's
	// context ends may take to finish; past it they are abandoned cleanly
	// (record back to queued, lease released) for the next start. Zero
	// abandons at once.
	ShutdownGrace time.Duration
	// Audit, if set, records every submission's receipt and outcome.
	Audit *audit.Log
	// Log, if set, is the transparency log every publication is appended
	// to before its zip is committed.
	Log *translog.Log
}

// Defaults for Config fields left zero.
const (
	DefaultMaxZipSize = 250 << 20
	DefaultClaimWait  = 2 * time.Minute
	maxAttempts       = 3
)

// ErrTooLarge is returned when an uploaded candidate exceeds MaxZipSize.
var ErrTooLarge = errors.New("candidate is larger than the size limit")

// Publisher runs the publishing job.
type Publisher struct {
	cfg Config
	b   *storage.Buckets
	log *slog.Logger

	work chan string

	inst instance // this process among all on the buckets (leases)

	mu       sync.Mutex
	changed  chan struct{}
	inflight map[string]bool
	foreign  map[string]bool // watched by Run (foreign.go); nil outside Run
}

// DefaultWorkers is the default Config.Workers: one more than the cores
// the process may use, at least 2. A job waits for the disk part of the
// time (the group-committed syncs before and after its zip is linked), and
// the spare worker keeps the cores busy meanwhile: on 2 cores, 3 workers
// migrated the v1 production branch's count of revisions about 5 % faster
// than 2 (BenchmarkSync/file-scaled, docs/benchmarks.md).
func DefaultWorkers() int { return max(2, runtime.GOMAXPROCS(0)+1) }

// New returns a Publisher; call Run to start its workers.
func New(cfg Config) (*Publisher, error) {
	if cfg.Buckets == nil {
		return nil, errors.New("publish: no buckets")
	}
	if cfg.Limits == (archive.Limits{}) {
		cfg.Limits = archive.DefaultLimits
	}
	if cfg.MaxZipSize <= 0 {
		cfg.MaxZipSize = DefaultMaxZipSize
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers()
	}
	if cfg.ClaimWait <= 0 {
		cfg.ClaimWait = DefaultClaimWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{
		cfg:      cfg,
		b:        cfg.Buckets,
		log:      cfg.Logger,
		work:     make(chan string, 4096),
		changed:  make(chan struct{}),
		inflight: map[string]bool{},
		inst:     newInstance(),
	}, nil
}

// Options of one candidate.
type Options struct {
	Legacy bool // skip package-spec validation (v1 packages)
	DryRun bool // run every check, write nothing public
	// Token and Client say who submitted it (audit records).
	Token, Client string
	// UpstreamSignature, when not nil, is the upstream's armored
	// signature of a revision its submitter (a mirror or import
	// operator) verified and re-signed with their own key: the
	// candidate's signature is the operator's, and this one is kept in
	// the provenance record (upstream.go).
	UpstreamSignature []byte
}

var blobJSON = storage.WriterOptions{ContentType: "application/json"}

// UploadZip streams a candidate zip into the queue under submission id.
// fileName must be NAME-VERSION.zip.
func (p *Publisher) UploadZip(ctx context.Context, id, fileName string, r io.Reader) (int64, error) {
	if _, err := packageid.ParseZipName(fileName); err != nil {
		return 0, err
	}
	key := storage.QueueDir(id) + fileName
	// A failed read, or one byte past the limit, fails the write: nothing
	// is left in the queue.
	c := &capped{r: r, max: p.cfg.MaxZipSize}
	err := p.b.Internal.WriteFile(ctx, key, c, &storage.WriterOptions{ContentType: "application/zip"})
	switch {
	case c.over:
		return c.n, fmt.Errorf("%w (%d bytes)", ErrTooLarge, p.cfg.MaxZipSize)
	case c.err != nil:
		return c.n, c.err // the upload's own failure, as the caller sent it
	case err != nil:
		return c.n, fmt.Errorf("queue %s: %w", key, err)
	}
	return c.n, nil
}

// capped reads r and fails once more than max bytes came from it.
type capped struct {
	r    io.Reader
	n    int64
	max  int64
	over bool
	err  error // of r, other than io.EOF
}

func (c *capped) Read(p []byte) (int, error) {
	if c.over {
		return 0, ErrTooLarge
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		c.over = true
		return n, ErrTooLarge
	}
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// Enqueue records a submission whose zip was uploaded with UploadZip (and
// its signature, when sig is not nil) and schedules it.
func (p *Publisher) Enqueue(ctx context.Context, id, fileName string, sig []byte, opts Options) (*api.Submission, error) {
	s := &api.Submission{ID: id, Package: fileName, Status: api.StatusQueued, Legacy: opts.Legacy, DryRun: opts.DryRun, Signed: sig != nil, Submitted: time.Now().UTC(), Token: opts.Token, Client: opts.Client}
	if pid, err := packageid.ParseZipName(fileName); err == nil {
		s.Name, s.Version = pid.Name, pid.Version
	} else {
		return p.rejectNow(ctx, s, api.Reason{Check: api.CheckName, File: fileName, Message: err.Error()})
	}
	if sig != nil {
		if len(sig) > signature.MaxSignatureSize {
			return p.rejectNow(ctx, s, api.Reason{Check: api.CheckSignature, File: fileName + ".sig", Message: fmt.Sprintf("signature file is %d bytes, larger than %d", len(sig), signature.MaxSignatureSize)})
		}
		if err := p.b.Internal.WriteAll(ctx, storage.QueueDir(id)+fileName+".sig", sig, nil); err != nil {
			return nil, fmt.Errorf("queue signature: %w", err)
		}
	}
	if up := opts.UpstreamSignature; up != nil {
		if r := checkUpstreamSize(fileName, sig, up); r != nil {
			return p.rejectNow(ctx, s, *r)
		}
		if err := p.b.Internal.WriteAll(ctx, storage.QueueDir(id)+fileName+upstreamSuffix, up, nil); err != nil {
			return nil, fmt.Errorf("queue upstream signature: %w", err)
		}
	}
	// Like the queued files, the receipt is not synced on its own: a
	// power failure before the publication's first Sync may lose a
	// submission the client saw queued, never one it saw published (the
	// publication syncs everything before and after its zip).
	if err := p.recordEventNoSync(ctx, s, audit.Received); err != nil {
		return nil, err
	}
	if err := p.saveRecord(ctx, s); err != nil {
		return nil, err
	}
	p.schedule(id)
	return s, nil
}

// Reject records a submission refused before it could be queued (e.g. a
// malformed file name), so that it can be looked up like any other.
func (p *Publisher) Reject(ctx context.Context, id, fileName string, opts Options, r api.Reason) (*api.Submission, error) {
	s := &api.Submission{ID: id, Package: fileName, Legacy: opts.Legacy, DryRun: opts.DryRun, Submitted: time.Now().UTC(), Token: opts.Token, Client: opts.Client}
	return p.rejectNow(ctx, s, r)
}

func (p *Publisher) rejectNow(ctx context.Context, s *api.Submission, r api.Reason) (*api.Submission, error) {
	now := time.Now().UTC()
	s.Status, s.Reasons, s.Finished = api.StatusRejected, []api.Reason{r}, &now
	if err := p.recordEvent(ctx, s, audit.Refused); err != nil {
		return nil, err
	}
	if err := p.saveRecord(ctx, s); err != nil {
		return nil, err
	}
	_ = p.deleteQueued(ctx, s.ID)
	p.notify()
	return s, nil
}

// Candidate is a package handed to Submit in one piece.
type Candidate struct {
	FileName  string    // NAME-VERSION.zip
	Zip       io.Reader // streamed into the queue
	Signature []byte    // nil when unsigned
	Options
}

// Submit queues a candidate (UploadZip + Enqueue).
func (p *Publisher) Submit(ctx context.Context, c Candidate) (*api.Submission, error) {
	id := NewID()
	if _, err := packageid.ParseZipName(c.FileName); err != nil {
		return p.Reject(ctx, id, c.FileName, c.Options, api.Reason{Check: api.CheckName, File: c.FileName, Message: err.Error()})
	}
	if _, err := p.UploadZip(ctx, id, c.FileName, c.Zip); err != nil {
		return nil, err
	}
	return p.Enqueue(ctx, id, c.FileName, c.Signature, c.Options)
}

func (p *Publisher) schedule(id string) {
	p.mu.Lock()
	if p.inflight[id] {
		p.mu.Unlock()
		return
	}
	p.inflight[id] = true
	p.mu.Unlock()
	select {
	case p.work <- id:
	default:
		// The queue channel is full; the periodic scan picks it up later.
		p.mu.Lock()
		delete(p.inflight, id)
		p.mu.Unlock()
	}
}

// Pending returns how many submissions this process holds unfinished:
// scheduled, waiting for a worker, or being processed.
func (p *Publisher) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight)
}

// Run starts the workers and the queue scanner, recovers candidates left in
// the queue (by a crash, or by another process), and blocks until ctx is done.
//
// When ctx ends no new submission starts; those in progress get
// ShutdownGrace to finish, then their context is cancelled and they are
// abandoned cleanly. Run returns when every worker has stopped.
func (p *Publisher) Run(ctx context.Context) {
	// Jobs run on their own context so that shutdown can let them finish.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	p.mu.Lock()
	p.foreign = map[string]bool{}
	p.mu.Unlock()
	wg := p.startWorkers(ctx, jobCtx, nil)
	p.CleanQueue(ctx)
	p.Recover(ctx)
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	ft := time.NewTicker(foreignCheck)
	defer ft.Stop()
	// A serve that restarts after a crash finds its cut upload young: it
	// is cleaned by a later pass, not only at the next start.
	lastClean := time.Now()
	for {
		select {
		case <-ctx.Done():
			p.stopWorkers(wg, cancelJobs)
			return
		case <-ft.C:
			p.checkForeign(ctx)
		case <-t.C:
			p.Recover(ctx)
			if time.Since(lastClean) >= cleanEvery {
				p.CleanQueue(ctx)
				lastClean = time.Now()
			}
		}
	}
}

// startWorkers starts Config.Workers workers that take scheduled
// submissions until ctx is done and run each on jobCtx; after, if set, is
// called with each submission a worker is done with.
func (p *Publisher) startWorkers(ctx, jobCtx context.Context, after func(id string)) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < p.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-p.work:
					if ctx.Err() != nil {
						p.forget(id)
						return
					}
					p.process(jobCtx, id)
					p.forget(id)
					if after != nil {
						after(id)
					}
				}
			}
		}()
	}
	return &wg
}

// stopWorkers waits, once the workers' context is done, for the
// submissions in progress, ShutdownGrace at most; then it cancels them
// (each is handed back to the queue) and waits for the workers to return.
func (p *Publisher) stopWorkers(wg *sync.WaitGroup, cancelJobs context.CancelFunc) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	grace := time.NewTimer(p.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		p.log.Warn("shutdown grace over: abandoning the submissions in progress", "pending", p.Pending())
		cancelJobs()
		<-done
	}
}

func (p *Publisher) forget(id string) {
	p.mu.Lock()
	delete(p.inflight, id)
	p.mu.Unlock()
}

// Recover schedules every submission still in the queue.
func (p *Publisher) Recover(ctx context.Context) {
	objs, err := p.b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: storage.QueuePrefix, Delimiter: "/"})
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error("scan publishing queue", "err", err)
		}
		return
	}
	for _, obj := range objs {
		if !obj.IsDir {
			continue
		}
		id := obj.Key[len(storage.QueuePrefix) : len(obj.Key)-1]
		if validID(id) {
			p.schedule(id)
		}
	}
}

// process runs one submission to a final status.
func (p *Publisher) process(ctx context.Context, id string) {
	s, err := p.Status(ctx, id)
	if errors.Is(err, ErrUnknownSubmission) {
		// Queue objects without a record: an upload that never completed.
		// Leave young ones alone (the upload may still be running).
		if ts, ok := idTime(id); ok && time.Since(ts) > AbandonedAfter {
			p.log.Warn("dropping abandoned upload", "submission", id)
			p.recordAbandoned(ctx, id)
			_ = p.deleteQueued(ctx, id)
		}
		return
	}
	if err != nil {
		p.log.Error("read submission", "submission", id, "err", err)
		return
	}
	if s.Status.Final() {
		p.finishRecovered(ctx, s)
		return
	}
	l, err := p.acquire(ctx, id)
	if err != nil {
		p.log.Error("lease submission", "submission", id, "err", err)
		return
	}
	if l == nil {
		p.watchForeign(id) // another live process is working on it
		return
	}
	// The previous holder may have finished just before we took over.
	if s, err = p.Status(ctx, id); err != nil || s.Status.Final() {
		if err == nil {
			p.finishRecovered(ctx, s)
		}
		p.release(ctx, id)
		return
	}
	kctx, stopKeeping := context.WithCancel(ctx)
	defer stopKeeping()
	go p.keep(kctx, l)

	now := time.Now().UTC()
	s.Status, s.Started = api.StatusProcessing, &now
	s.Attempts++
	if err := p.saveRecord(ctx, s); err != nil {
		p.log.Error("record submission", "submission", id, "err", err)
		return
	}
	p.notify()
	reasons, err := p.run(ctx, s, l)
	var busy *busyError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// Shutting down: the candidate stays queued, and is handed back
		// at once rather than when its lease expires.
		p.requeue(s, l)
		return
	case errors.Is(err, errLostLease):
		p.log.Warn("another process took this submission over", "submission", id)
		return
	case errors.As(err, &busy) && time.Since(s.Submitted) < p.cfg.ClaimWait:
		// Another submission of NAME-VERSION is in progress: come back
		// later rather than hold a worker.
		s.Status, s.Attempts = api.StatusQueued, s.Attempts-1
		_ = p.saveRecord(ctx, s)
		p.later(ctx, id, 500*time.Millisecond)
		return
	case errors.As(err, &busy):
		reasons = []api.Reason{busy.reason}
	default:
		p.log.Error("publishing failed", "submission", id, "attempt", s.Attempts, "err", err)
		if s.Attempts < maxAttempts {
			s.Status = api.StatusQueued
			_ = p.saveRecord(ctx, s)
			p.later(ctx, id, time.Duration(s.Attempts)*time.Second)
			return
		}
		reasons = []api.Reason{{Check: api.CheckInternal, Message: err.Error()}}
		p.abandon(ctx, s, l)
	}
	if ok, err := p.holds(ctx, l); err != nil || !ok {
		return // the new holder records the outcome
	}
	fin := time.Now().UTC()
	s.Finished = &fin
	s.Reasons = reasons
	switch {
	case len(reasons) > 0:
		s.Status = api.StatusRejected
	case s.DryRun:
		s.Status = api.StatusPassed
	default:
		s.Status = api.StatusPublished
	}
	// The outcome's audit record comes before the outcome: a crash between
	// the two redoes both, and the record is written once.
	if ev := outcomeEvent(s.Status); ev != "" {
		if err := p.recordEvent(ctx, s, ev); err != nil {
			p.log.Error("record outcome in the audit log", "submission", id, "err", err)
			return
		}
	}
	if err := p.saveRecord(ctx, s); err != nil {
		p.log.Error("record outcome", "submission", id, "err", err)
		return
	}
	p.step("recorded")
	p.release(ctx, id)
	if err := p.deleteQueued(ctx, id); err != nil {
		p.log.Error("remove from queue", "submission", id, "err", err)
	}
	p.step("dequeued")
	p.log.Info("submission finished", "submission", id, "package", s.Package, "status", s.Status, "reasons", len(reasons))
	if p.cfg.OnFinished != nil {
		p.cfg.OnFinished(s, fin.Sub(now))
	}
	p.notify()
	if s.Status == api.StatusPublished && p.cfg.OnPublished != nil {
		p.cfg.OnPublished(packageid.ID{Name: s.Name, Version: s.Version})
	}
}

// requeue hands an interrupted submission back to the queue: its record
// says queued again and its lease is released, so the next process (or
// this one's next start) takes it at once. What it wrote is finished or
// removed by that retry, as after a crash.
func (p *Publisher) requeue(s *api.Submission, l *lease) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ok, err := p.holds(ctx, l); err != nil || !ok {
		return // another process took it over and records its outcome
	}
	s.Status, s.Started = api.StatusQueued, nil
	s.Attempts--
	if err := p.saveRecord(ctx, s); err != nil {
		p.log.Warn("requeue interrupted submission", "submission", s.ID, "err", err)
	}
	p.release(ctx, s.ID)
	p.log.Info("submission interrupted by shutdown: queued for the next start", "submission", s.ID)
}

// later schedules id again after d.
func (p *Publisher) later(ctx context.Context, id string, d time.Duration) {
	go func() {
		select {
		case <-ctx.Done():
		case <-time.After(d):
			p.schedule(id)
		}
	}()
}

// finishRecovered completes what a process that died after recording an
// outcome left undone: the queue entry, and the indexing of a publication.
func (p *Publisher) finishRecovered(ctx context.Context, s *api.Submission) {
	_ = p.deleteQueued(ctx, s.ID)
	p.release(ctx, s.ID)
	if s.Status == api.StatusPublished && p.cfg.OnPublished != nil {
		p.cfg.OnPublished(packageid.ID{Name: s.Name, Version: s.Version})
	}
}

// abandon removes what the attempts of a submission that is given up on
// wrote, if it claimed NAME-VERSION and its zip never made it.
func (p *Publisher) abandon(ctx context.Context, s *api.Submission, l *lease) {
	id := packageid.ID{Name: s.Name, Version: s.Version}
	if holder, err := p.claimHolder(ctx, id); err != nil || holder != s.ID {
		return
	}
	if err := p.checkLease(ctx, l); err != nil {
		return
	}
	p.cleanup(context.WithoutCancel(ctx), id, s)
}

// Discard removes an upload that will not be enqueued (a request that
// failed after its zip reached the queue).
func (p *Publisher) Discard(ctx context.Context, id string) {
	_ = p.deleteQueued(context.WithoutCancel(ctx), id)
}

func idTime(id string) (time.Time, bool) {
	if !validID(id) {
		return time.Time{}, false
	}
	var ns int64
	fmt.Sscanf(id[:19], "%d", &ns)
	return time.Unix(0, ns), true
}

func (p *Publisher) step(name string) {
	if p.cfg.AfterStep != nil {
		p.cfg.AfterStep(name)
	}
}

func (p *Publisher) deleteQueued(ctx context.Context, id string) error {
	return p.b.Internal.DeletePrefix(ctx, storage.QueueDir(id))
}

// spool returns the queued zip as a local file, its size and its sha256:
// on a file bucket the queued file itself (it is never rewritten), else a
// copy in a temporary file.
func (p *Publisher) spool(ctx context.Context, key string) (*os.File, int64, string, error) {
	if f, err := p.b.Internal.OpenLocal(key); err != nil || f != nil {
		if err != nil {
			return nil, 0, "", err
		}
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(f, p.cfg.MaxZipSize+1))
		if err != nil {
			f.Close()
			return nil, 0, "", fmt.Errorf("read candidate: %w", err)
		}
		return f, n, hex.EncodeToString(h.Sum(nil)), nil
	}
	r, err := p.b.Internal.NewReader(ctx, key)
	if err != nil {
		return nil, 0, "", err
	}
	defer r.Close()
	f, err := os.CreateTemp(p.cfg.TempDir, "pkgstore-candidate-*.zip")
	if err != nil {
		return nil, 0, "", fmt.Errorf("spool candidate: %w", err)
	}
	os.Remove(f.Name()) // unlinked: nothing is left behind, even after a crash
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, p.cfg.MaxZipSize+1))
	if err != nil {
		f.Close()
		return nil, 0, "", fmt.Errorf("spool candidate: %w", err)
	}
	return f, n, hex.EncodeToString(h.Sum(nil)), nil
}
