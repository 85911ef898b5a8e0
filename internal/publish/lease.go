package publish

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"pkgstore/internal/storage"
)

// A lease says which process is working on a submission, so that the queue
// scans every process runs (at start and every 30 seconds) never have two
// processes work on one submission at once. Leases are objects
// pkgstore/leases/<submission>@<generation>; the highest generation holds.
// A holder renews its lease while it works; a lease not renewed for
// leaseTTL, or held by a dead process on this host, may be taken over by
// creating the next generation (create-if-absent: one taker wins).
const (
	leaseTTL   = 30 * time.Second
	leaseRenew = 10 * time.Second
)

type leaseRecord struct {
	Instance string    `json:"instance"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Renewed  time.Time `json:"renewed"`
}

// instance identifies this Publisher among every process on the buckets.
type instance struct {
	id   string
	host string
	pid  int
}

func newInstance() instance {
	var r [8]byte
	_, _ = rand.Read(r[:])
	host, _ := os.Hostname()
	return instance{id: hex.EncodeToString(r[:]), host: host, pid: os.Getpid()}
}

func leasePrefix(sub string) string { return storage.OwnPrefix + "leases/" + sub + "@" }

func leaseKey(sub string, gen int) string { return fmt.Sprintf("%s%06d", leasePrefix(sub), gen) }

// lease is a held lease; renew it with keep and give it up with release.
type lease struct {
	sub string
	gen int
}

// topLease returns the highest lease generation of sub and its record.
func (p *Publisher) topLease(ctx context.Context, sub string) (int, *leaseRecord, error) {
	prefix := leasePrefix(sub)
	objs, err := p.b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: prefix})
	if err != nil {
		return 0, nil, fmt.Errorf("leases: %w", err)
	}
	if len(objs) == 0 {
		return 0, nil, nil
	}
	gens := make([]string, 0, len(objs))
	for _, o := range objs {
		gens = append(gens, strings.TrimPrefix(o.Key, prefix))
	}
	sort.Strings(gens)
	var gen int
	if _, err := fmt.Sscanf(gens[len(gens)-1], "%d", &gen); err != nil {
		return 0, nil, fmt.Errorf("bad lease generation %q", gens[len(gens)-1])
	}
	data, err := p.b.Internal.ReadAll(ctx, leaseKey(sub, gen))
	if err != nil {
		if storage.IsNotFound(err) {
			return gen, nil, nil // released meanwhile
		}
		return 0, nil, err
	}
	var rec leaseRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return gen, nil, nil // torn by a crash mid-write: treat as expired
	}
	return gen, &rec, nil
}

func (p *Publisher) leaseRecord() []byte {
	b, _ := json.Marshal(leaseRecord{Instance: p.inst.id, Host: p.inst.host, PID: p.inst.pid, Renewed: time.Now().UTC()})
	return b
}

// live reports whether a lease record still holds against takers.
func (p *Publisher) live(rec *leaseRecord) bool {
	if rec == nil || time.Since(rec.Renewed) > leaseTTL {
		return false
	}
	if rec.Host == p.inst.host && rec.PID != p.inst.pid && !pidAlive(rec.PID) {
		return false // its process died: no need to wait for the TTL
	}
	return true
}

func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// acquire takes the lease of sub, or returns nil if another live process
// holds it.
func (p *Publisher) acquire(ctx context.Context, sub string) (*lease, error) {
	gen, rec, err := p.topLease(ctx, sub)
	if err != nil {
		return nil, err
	}
	if rec != nil && rec.Instance == p.inst.id {
		return &lease{sub: sub, gen: gen}, nil
	}
	if p.live(rec) {
		return nil, nil
	}
	err = p.b.Internal.CreateIfAbsentNoSync(ctx, leaseKey(sub, gen+1), bytes.NewReader(p.leaseRecord()), &blobJSON)
	if errors.Is(err, storage.ErrExists) {
		return nil, nil // another taker won this generation
	}
	if err != nil {
		return nil, err
	}
	return &lease{sub: sub, gen: gen + 1}, nil
}

// holds reports whether l is still the lease of its submission.
func (p *Publisher) holds(ctx context.Context, l *lease) (bool, error) {
	gen, rec, err := p.topLease(ctx, l.sub)
	if err != nil {
		return false, err
	}
	return gen == l.gen && rec != nil && rec.Instance == p.inst.id, nil
}

// keep renews l until ctx is done.
func (p *Publisher) keep(ctx context.Context, l *lease) {
	t := time.NewTicker(leaseRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.b.Internal.WriteAll(ctx, leaseKey(l.sub, l.gen), p.leaseRecord(), &blobJSON); err != nil && ctx.Err() == nil {
				p.log.Warn("renew lease", "submission", l.sub, "err", err)
			}
		}
	}
}

func (p *Publisher) release(ctx context.Context, sub string) {
	_ = p.b.Internal.DeletePrefix(ctx, leasePrefix(sub))
}

// errLostLease stops an attempt whose lease another process took over.
var errLostLease = errors.New("lease lost: another process took over this submission")

// checkLease returns errLostLease if l no longer holds.
func (p *Publisher) checkLease(ctx context.Context, l *lease) error {
	ok, err := p.holds(ctx, l)
	if err != nil {
		return err
	}
	if !ok {
		return errLostLease
	}
	return nil
}
