package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// Defaults of the pull-through cache's bounds.
const (
	DefaultMaxPulls          = 4
	DefaultMaxPullsPerClient = 2
	DefaultPullTimeout       = 10 * time.Minute
	DefaultBusyWait          = 5 * time.Second
	// retryAfter is what a busy cache asks clients to wait.
	retryAfter = "10"
)

// errBusy is a pull refused for want of a slot or of temporary space:
// answered 503 with Retry-After.
var errBusy = errors.New("proxy cache busy")

// flight is one download shared by every request for a revision. It runs
// detached from any one request and is cancelled when its last waiter
// leaves.
type flight struct {
	done    chan struct{}
	err     error
	waiters int
	cancel  context.CancelFunc
}

// entry is a revision the cache published (and may evict).
type entry struct {
	Size int64     `json:"size"`
	Kept time.Time `json:"kept"`
	used time.Time
}

func (c *Cache) withDefaults(maxZip int64) {
	if c.MaxZipSize <= 0 {
		c.MaxZipSize = maxZip
	}
	if c.MaxZipSize <= 0 {
		c.MaxZipSize = mirror.DefaultMaxZipSize
	}
	if c.TempBytes < c.MaxZipSize {
		// A download of unknown length reserves MaxZipSize: less could
		// never be granted.
		c.TempBytes = c.MaxZipSize
	}
	if c.MaxPulls <= 0 {
		c.MaxPulls = DefaultMaxPulls
	}
	if c.MaxPullsPerClient <= 0 {
		c.MaxPullsPerClient = DefaultMaxPullsPerClient
	}
	if c.PullTimeout <= 0 {
		c.PullTimeout = DefaultPullTimeout
	}
	if c.BusyWait <= 0 {
		c.BusyWait = DefaultBusyWait
	}
	if c.Visible <= 0 {
		c.Visible = 30 * time.Second
	}
}

// Close cancels every pull in flight and waits for them to end.
func (p *Proxy) Close() {
	p.stop()
	p.wg.Wait()
}

// clientKey is who a request counts against for MaxPullsPerClient: its
// peer's address (behind a reverse proxy every client is the proxy).
func clientKey(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// pull makes the local store serve id: it joins the download of id in
// flight, or starts one (bounded by MaxPulls in all, waiting at most
// BusyWait for a slot, and by MaxPullsPerClient for the asking client).
// A request that leaves stops waiting; the download is cancelled when no
// request waits for it any more.
func (p *Proxy) pull(ctx context.Context, id packageid.ID, who string) error {
	c := p.cfg.Cache
	p.mu.Lock()
	if p.perClient[who] >= c.MaxPullsPerClient {
		p.mu.Unlock()
		return fmt.Errorf("%w: %s already waits for %d downloads", errBusy, who, c.MaxPullsPerClient)
	}
	p.perClient[who]++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.perClient[who]--; p.perClient[who] <= 0 {
			delete(p.perClient, who)
		}
		p.mu.Unlock()
	}()
	f, err := p.join(ctx, id)
	if err != nil {
		return err
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		p.mu.Lock()
		if f.waiters--; f.waiters == 0 {
			f.cancel()
			// A request arriving now starts afresh rather than join a
			// cancelled download.
			if p.flights[id] == f {
				delete(p.flights, id)
			}
		}
		p.mu.Unlock()
		return ctx.Err()
	}
}

// join returns the flight of id with the caller counted as a waiter.
func (p *Proxy) join(ctx context.Context, id packageid.ID) (*flight, error) {
	c := p.cfg.Cache
	slot := false
	for {
		p.mu.Lock()
		if f := p.flights[id]; f != nil {
			f.waiters++
			p.mu.Unlock()
			if slot {
				<-p.slots
			}
			return f, nil
		}
		if slot {
			// The flight's context ends with Close or PullTimeout; its
			// download's also when the last waiter leaves.
			fctx, cancel := context.WithTimeout(p.ctx, c.PullTimeout)
			dctx, leave := context.WithCancel(fctx)
			f := &flight{done: make(chan struct{}), cancel: leave, waiters: 1}
			p.flights[id] = f
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				err := p.download(fctx, dctx, id)
				if err != nil && fctx.Err() != nil && errors.Is(fctx.Err(), context.DeadlineExceeded) {
					err = fmt.Errorf("pull of %s not done within %s: %w", id, c.PullTimeout, err)
				}
				cancel()
				p.mu.Lock()
				if p.flights[id] == f {
					delete(p.flights, id)
				}
				f.err = err
				p.mu.Unlock()
				<-p.slots
				close(f.done)
			}()
			return f, nil
		}
		p.mu.Unlock()
		t := time.NewTimer(c.BusyWait)
		select {
		case p.slots <- struct{}{}:
			slot = true
			t.Stop()
		case <-t.C:
			return nil, fmt.Errorf("%w: %d downloads in flight", errBusy, c.MaxPulls)
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// reserve takes n bytes of the temporary space, waiting at most BusyWait.
func (p *Proxy) reserve(ctx context.Context, n int64) (func(), error) {
	wctx, cancel := context.WithTimeout(ctx, p.cfg.Cache.BusyWait)
	defer cancel()
	if err := p.temp.Acquire(wctx, n); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: no room for %d more bytes in the %d bytes of temporary space", errBusy, n, p.cfg.Cache.TempBytes)
	}
	return func() { p.temp.Release(n) }, nil
}

// servesLocally reports whether the local store serves id (and it is not being
// evicted).
func (p *Proxy) servesLocally(id packageid.ID) bool {
	if !p.cfg.Local.Serves(id) {
		if p.cfg.Cache != nil {
			p.mu.Lock()
			delete(p.evicted, id) // the index caught up
			p.mu.Unlock()
		}
		return false
	}
	if p.cfg.Cache == nil {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.evicted[id] {
		return false
	}
	if e := p.cached[id]; e != nil {
		e.used = time.Now()
	}
	return true
}

// download fetches id from the upstream (signature first) under dctx,
// which ends when no client waits any more; then, under ctx (a verified
// zip on disk is cheap to finish), publishes it into the local store,
// waits until the store serves it, records it and evicts what the cache
// holds beyond MaxBytes.
func (p *Proxy) download(ctx, dctx context.Context, id packageid.ID) error {
	c := p.cfg.Cache
	p.mu.Lock()
	gone := p.evicting[id]
	p.mu.Unlock()
	if gone != nil {
		select { // its files are being deleted: do not write beside them
		case <-gone:
		case <-dctx.Done():
			return dctx.Err()
		}
	}
	if p.servesLocally(id) {
		return nil
	}
	tmp, err := os.CreateTemp(c.TempDir, "pkgstore-proxy-*.zip")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	rev := mirror.Revision{Name: id.Name, Version: id.Version, Download: "/epr/" + id.Name + "/" + id.ZipName(), SignaturePath: "/epr/" + id.Name + "/" + id.ZipName() + ".sig"}
	got, err := p.fetch.Fetch(dctx, rev, tmp)
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	created, err := c.Publish(ctx, id.ZipName(), io.LimitReader(tmp, got.Size), got.Signature)
	if err != nil {
		return fmt.Errorf("publish %s: %w", id, err)
	}
	p.mu.Lock()
	delete(p.evicted, id)
	p.mu.Unlock()
	deadline := time.Now().Add(c.Visible)
	for !p.cfg.Local.Serves(id) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s published but not in the local index after %s", id, c.Visible)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.log.Info("proxy cache: revision kept", "package", id.String(), "bytes", got.Size)
	if created && c.Records != nil && c.Footprint != nil {
		// Recorded even without MaxBytes, so that a limit set later
		// knows which revisions are the cache's.
		p.keep(ctx, id)
	}
	return nil
}

// keep records id as the cache's own, then evicts the least recently used
// of the cache's revisions until they fit in MaxBytes (when set). A failure here
// only leaves the cache larger: it is logged.
func (p *Proxy) keep(ctx context.Context, id packageid.ID) {
	c := p.cfg.Cache
	if err := p.load(ctx); err != nil {
		p.log.Error("proxy cache: cannot read its records: nothing evicted", "err", err)
		return
	}
	size, err := c.Footprint(ctx, id)
	if err != nil {
		p.log.Error("proxy cache: size of a kept revision", "package", id.String(), "err", err)
		return
	}
	now := time.Now()
	e := &entry{Size: size, Kept: now.UTC(), used: now}
	raw, _ := json.Marshal(e)
	if err := c.Records.WriteAll(ctx, storage.ProxyCacheKey(id), raw, nil); err != nil {
		p.log.Error("proxy cache: record of a kept revision", "package", id.String(), "err", err)
		return
	}
	p.mu.Lock()
	p.cached[id] = e
	for v := range p.evicted {
		if !p.cfg.Local.Serves(v) {
			delete(p.evicted, v) // the index caught up
		}
	}
	if c.MaxBytes <= 0 {
		p.mu.Unlock()
		return
	}
	var total int64
	var order []packageid.ID
	for cid, ce := range p.cached {
		if p.cfg.Local.Serves(cid) && !p.cfg.Local.Has(cid) {
			continue // yanked: pinned here, never evicted, not counted
		}
		total += ce.Size
		if cid != id && p.flights[cid] == nil {
			order = append(order, cid)
		}
	}
	slices.SortFunc(order, func(a, b packageid.ID) int { return p.cached[a].used.Compare(p.cached[b].used) })
	var victims []packageid.ID
	for _, v := range order {
		if total <= c.MaxBytes {
			break
		}
		total -= p.cached[v].Size
		victims = append(victims, v)
		delete(p.cached, v)
		p.evicted[v] = true
		p.evicting[v] = make(chan struct{})
	}
	p.mu.Unlock()
	for _, v := range victims {
		// The record goes first: a crash in between leaves a revision
		// the cache will never evict, never one it evicts wrongly.
		err := c.Records.Delete(context.WithoutCancel(ctx), storage.ProxyCacheKey(v))
		if err == nil || storage.IsNotFound(err) {
			err = c.Evict(context.WithoutCancel(ctx), v)
		}
		p.mu.Lock()
		close(p.evicting[v])
		delete(p.evicting, v)
		p.mu.Unlock()
		if err != nil {
			p.log.Error("proxy cache: evict", "package", v.String(), "err", err)
			continue
		}
		p.log.Info("proxy cache: revision evicted", "package", v.String(), "max_bytes", c.MaxBytes)
	}
}

// load reads the records of the revisions the cache published, once; the
// least recently used order starts as the order they were kept in.
func (p *Proxy) load(ctx context.Context) error {
	p.mu.Lock()
	loaded := p.loaded
	p.mu.Unlock()
	if loaded {
		return nil
	}
	c := p.cfg.Cache
	objs, err := c.Records.ListAll(ctx, &storage.ListOptions{Prefix: storage.ProxyCachePrefix})
	if err != nil {
		return err
	}
	found := map[packageid.ID]*entry{}
	for _, o := range objs {
		name := strings.TrimSuffix(strings.TrimPrefix(o.Key, storage.ProxyCachePrefix), ".json")
		id, err := packageid.ParseZipName(name + ".zip")
		if err != nil {
			continue
		}
		raw, err := c.Records.ReadAll(ctx, o.Key)
		if err != nil {
			return err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			p.log.Warn("proxy cache: unreadable record", "key", o.Key, "err", err)
			continue
		}
		e.used = e.Kept
		found[id] = &e
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.loaded {
		for id, e := range found {
			if p.cached[id] == nil {
				p.cached[id] = e
			}
		}
		p.loaded = true
	}
	return nil
}
