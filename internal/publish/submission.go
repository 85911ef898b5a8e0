package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/storage"
)

// ErrUnknownSubmission is returned for an id with no record.
var ErrUnknownSubmission = errors.New("unknown submission")

// NewID returns a submission id that sorts by creation time (so the queue
// is recovered in order) and cannot collide across machines.
func NewID() string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return fmt.Sprintf("%019d-%s", time.Now().UnixNano(), hex.EncodeToString(r[:]))
}

// validID guards ids that come from URLs.
func validID(id string) bool {
	ts, rnd, ok := strings.Cut(id, "-")
	if !ok || len(ts) != 19 || len(rnd) != 12 {
		return false
	}
	if _, err := strconv.ParseUint(ts, 10, 64); err != nil {
		return false
	}
	_, err := hex.DecodeString(rnd)
	return err == nil
}

func (p *Publisher) saveRecord(ctx context.Context, s *api.Submission) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return p.b.Internal.WriteAll(ctx, storage.SubmissionKey(s.ID), data, &blobJSON)
}

// Status returns the record of submission id.
func (p *Publisher) Status(ctx context.Context, id string) (*api.Submission, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSubmission, id)
	}
	data, err := p.b.Internal.ReadAll(ctx, storage.SubmissionKey(id))
	if err != nil {
		if storage.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %q", ErrUnknownSubmission, id)
		}
		return nil, fmt.Errorf("read submission %s: %w", id, err)
	}
	var s api.Submission
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse submission %s: %w", id, err)
	}
	return &s, nil
}

// Wait blocks until submission id is final or ctx is done, and returns its
// latest record.
func (p *Publisher) Wait(ctx context.Context, id string) (*api.Submission, error) {
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for {
		ch := p.notifier(id)
		s, err := p.Status(ctx, id)
		if err != nil || s.Status.Final() {
			return s, err
		}
		select {
		case <-ctx.Done():
			return s, nil
		case <-ch:
		case <-ticker.C:
		}
	}
}

// notifier returns a channel closed at the next change of any submission
// processed in this process; other processes' changes are seen by polling.
func (p *Publisher) notifier(string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

func (p *Publisher) notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}
