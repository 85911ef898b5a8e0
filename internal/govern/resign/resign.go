// Package resign re-signs every served signature of a store with a new
// store key (`pkgstore resign`): the rotation of the key Kibana verifies
// packages with (docs/operators-governance.md, *The store key*).
//
// Each published revision is taken in key order. Its zip must still be
// the one published (the sha256 of its provenance record), and something
// trusted must vouch for it: the served signature, by a key of the
// trusted keyring (the current store key, an owner's key) or of the new
// key itself (an older subkey), or else the owner's signature kept in the
// provenance. A zip nothing vouches for is never re-signed: it is
// reported, recorded in the audit log, and left as it is. A signature
// already made by the new key's current signing key is skipped, so a run
// can be repeated. Unsigned revisions stay unsigned.
//
// The run is resumable: a progress record in the internal bucket
// (storage.ResignProgressKey) names the run, its key and the last revision
// done; a run with the same key continues after it. Per revision, the
// writes go in an order a crash cannot break: the audit record (once per
// run and revision), the provenance record (the owner's signature kept,
// the new store signer), then the served signature, replaced in one
// write; every second, a sync and the progress record.
package resign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/storage"
)

// MaxZipSize bounds what a run reads of one zip (the publishing job's
// largest is 250 MB by default).
const MaxZipSize = 1 << 30

// Config of a run.
type Config struct {
	Buckets *storage.Buckets
	// Key is the new store key.
	Key *signature.SigningKey
	// Trusted are the keys whose signature vouches for a zip: the current
	// store key's public key, the owners' keys. The new key's own
	// (sub)keys always vouch.
	Trusted *signature.Keyring
	// Audit, if set, records each revision re-signed or refused.
	Audit *audit.Log
	// Client names who ran it in the audit records.
	Client string
	// DryRun checks everything and writes nothing.
	DryRun bool
	// Logger reports progress (nil: none).
	Logger *slog.Logger
	// AfterEach, if set, is called after each revision is done with its
	// id (tests interrupt a run with it).
	AfterEach func(id packageid.ID)
	// TempDir holds copies of zips read from cloud buckets.
	TempDir string
}

// Outcome of one revision.
type Outcome string

// The outcomes.
const (
	Resigned Outcome = "resigned"
	Skipped  Outcome = "skipped"  // already signed by the new key
	Unsigned Outcome = "unsigned" // no signature served: none is made
	Refused  Outcome = "refused"  // nothing trusted vouches for the zip
)

// Item is what a run did with one revision.
type Item struct {
	Package string  `json:"package"`
	Version string  `json:"version"`
	Outcome Outcome `json:"outcome"`
	// By says what vouched for the zip (resigned), or why it was refused.
	Detail string `json:"detail,omitempty"`
}

// Progress is the progress record of a run (storage.ResignProgressKey).
type Progress struct {
	Run            string    `json:"run"`
	KeyFingerprint string    `json:"key_fingerprint"`
	SigningKeyID   string    `json:"signing_key_id"`
	Started        time.Time `json:"started"`
	Updated        time.Time `json:"updated"`
	// After is the key of the last zip done; the run resumes after it.
	After    string `json:"after,omitempty"`
	Resigned int    `json:"resigned"`
	Skipped  int    `json:"skipped"`
	Unsigned int    `json:"unsigned"`
	Refused  int    `json:"refused"`
	Done     bool   `json:"done"`
}

// Result of a run.
type Result struct {
	Progress
	// Resumed is true when the run continued an interrupted one.
	Resumed bool `json:"resumed"`
	// Items are this invocation's revisions (not those of the run's
	// earlier, interrupted invocations).
	Items []Item `json:"items"`
}

// ErrRefused is wrapped by Run's error when some revision was refused.
var ErrRefused = errors.New("some revisions were not re-signed: nothing trusted vouches for their zip")

// Run re-signs every published revision's signature with cfg.Key. It
// returns an error for I/O failures (the run can be resumed); refused
// revisions are in the result, and Refusals reports them.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Buckets == nil || cfg.Key == nil {
		return nil, errors.New("resign: no buckets or no key")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now().UTC()
	keyID := cfg.Key.SigningKeyID(now)
	if keyID == "" {
		return nil, fmt.Errorf("resign: %w", cfg.Key.CanSign(now))
	}
	res := &Result{}
	prev, err := readProgress(ctx, cfg.Buckets.Internal)
	if err != nil {
		return nil, err
	}
	if prev != nil && !prev.Done && prev.SigningKeyID == keyID && !cfg.DryRun {
		res.Progress, res.Resumed = *prev, true
		log.Info("resuming an interrupted resign run", "run", prev.Run, "after", prev.After)
	} else {
		res.Progress = Progress{Run: audit.NewID(now), KeyFingerprint: cfg.Key.Fingerprint(), SigningKeyID: keyID, Started: now}
	}
	objs, err := cfg.Buckets.Public.ListAll(ctx, &storage.ListOptions{Prefix: storage.PackagesPrefix})
	if err != nil {
		return nil, fmt.Errorf("list published zips: %w", err)
	}
	r := &run{saved: time.Now(), cfg: cfg, log: log, keyID: keyID, newKeys: cfg.Key.Keyring(), trusted: signature.Merge(cfg.Trusted, cfg.Key.Keyring()), res: res}
	for _, o := range objs {
		if o.IsDir || !strings.HasSuffix(o.Key, ".zip") {
			continue
		}
		id, err := packageid.ParseZipName(strings.TrimPrefix(o.Key, storage.PackagesPrefix))
		if err != nil {
			continue // not a package zip: nothing EPR serves either
		}
		if res.After != "" && o.Key <= res.After {
			continue // done by the interrupted invocation
		}
		if err := ctx.Err(); err != nil {
			// Interrupted: what is done is kept for the next invocation.
			if !cfg.DryRun {
				if serr := r.checkpoint(context.WithoutCancel(ctx)); serr != nil {
					return res, errors.Join(err, serr)
				}
			}
			return res, err
		}
		item, err := r.one(ctx, id)
		if err != nil {
			return res, fmt.Errorf("%s: %w", id, err)
		}
		res.Items = append(res.Items, item)
		switch item.Outcome {
		case Resigned:
			res.Resigned++
		case Skipped:
			res.Skipped++
		case Unsigned:
			res.Unsigned++
		case Refused:
			res.Refused++
		}
		res.After = o.Key
		if !cfg.DryRun && time.Since(r.saved) >= CheckpointEvery {
			if err := r.checkpoint(ctx); err != nil {
				return res, err
			}
		}
		if cfg.AfterEach != nil {
			cfg.AfterEach(id)
		}
	}
	res.Done = true
	if !cfg.DryRun {
		if err := r.checkpoint(ctx); err != nil {
			return res, err
		}
	}
	if res.Refused > 0 {
		return res, fmt.Errorf("%w (%d)", ErrRefused, res.Refused)
	}
	return res, nil
}

// CheckpointEvery is how often a run makes what it wrote durable and
// records its progress: a crash redoes at most this much work (redone
// revisions are found signed by the new key, or re-signed again).
const CheckpointEvery = time.Second

type run struct {
	saved   time.Time // last checkpoint
	cfg     Config
	log     *slog.Logger
	keyID   string
	newKeys *signature.Keyring
	trusted *signature.Keyring
	res     *Result
}

func readProgress(ctx context.Context, b *storage.Bucket) (*Progress, error) {
	data, err := b.ReadAll(ctx, storage.ResignProgressKey)
	if storage.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read resign progress: %w", err)
	}
	var p Progress
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("parse %s: %w", storage.ResignProgressKey, err)
	}
	return &p, nil
}

// checkpoint makes every write so far durable, then records the
// progress: the record never says done what a power cut could lose (file
// buckets write without fsync; see storage.Bucket.Sync).
func (r *run) checkpoint(ctx context.Context) error {
	if err := r.cfg.Buckets.Sync(ctx); err != nil {
		return err
	}
	if err := r.saveProgress(ctx); err != nil {
		return err
	}
	if err := r.cfg.Buckets.Internal.Sync(ctx); err != nil {
		return err
	}
	r.saved = time.Now()
	return nil
}

func (r *run) saveProgress(ctx context.Context) error {
	r.res.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(r.res.Progress, "", "  ")
	if err != nil {
		return err
	}
	if err := r.cfg.Buckets.Internal.WriteAll(ctx, storage.ResignProgressKey, data, &storage.WriterOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write resign progress: %w", err)
	}
	return nil
}

// one re-signs revision id, or says why not.
func (r *run) one(ctx context.Context, id packageid.ID) (Item, error) {
	item := Item{Package: id.Name, Version: id.Version}
	b := r.cfg.Buckets
	served, err := readSignature(ctx, b.Public, storage.SignatureKey(id))
	if storage.IsNotFound(err) {
		item.Outcome = Unsigned
		return item, nil
	}
	if err != nil {
		return item, fmt.Errorf("read signature: %w", err)
	}
	rev, err := provenance.Read(ctx, b.Internal, id)
	if storage.IsNotFound(err) {
		rev = nil
	} else if err != nil {
		return item, err
	}
	zip, size, sum, err := r.open(ctx, id)
	if err != nil {
		return item, err
	}
	defer zip.Close()
	section := func() io.Reader { return io.NewSectionReader(zip, 0, size) }
	refuse := func(why string) (Item, error) {
		item.Outcome, item.Detail = Refused, why
		r.log.Warn("not re-signed", "package", id.String(), "reason", why)
		return item, r.record(ctx, id, audit.ResignRefused, sum, why)
	}
	if rev != nil && rev.SHA256 != "" && rev.SHA256 != sum {
		return refuse(fmt.Sprintf("the zip's sha256 %s is not the published %s: it changed since publication", sum, rev.SHA256))
	}
	// Already by the new key's current signing key: nothing to do.
	if s, err := r.newKeys.Verify(section(), bytes.NewReader(served)); err == nil && s.KeyID == r.keyID {
		item.Outcome, item.Detail = Skipped, "already signed by "+s.KeyID
		return item, nil
	}
	// What vouches for the zip: the served signature, else the owner's.
	servedSigner, servedErr := r.trusted.Verify(section(), bytes.NewReader(served))
	var owner []byte
	switch {
	case servedErr == nil:
		item.Detail = "served signature by " + servedSigner.Fingerprint + " (key " + servedSigner.KeyID + ")"
	case rev != nil && rev.OwnerSignature != "":
		s, err := r.trusted.Verify(section(), strings.NewReader(rev.OwnerSignature))
		if err != nil {
			return refuse(fmt.Sprintf("the served signature does not verify (%v), nor does the owner's kept in the provenance (%v)", servedErr, err))
		}
		item.Detail = "owner's signature by " + s.Fingerprint + " (provenance)"
	default:
		return refuse(fmt.Sprintf("the served signature does not verify with the trusted keys (%v) and the provenance keeps no owner's signature", servedErr))
	}
	if servedErr == nil && (rev == nil || rev.StoreSigner == nil) && (rev == nil || rev.OwnerSignature == "") {
		// The served signature is the owner's (published before the
		// store signed): it becomes the provenance's owner signature.
		owner = servedSigner.Armored
	}
	if r.cfg.DryRun {
		item.Outcome = Resigned
		return item, nil
	}
	var buf bytes.Buffer
	if err := r.cfg.Key.Sign(&buf, section()); err != nil {
		return item, err
	}
	newSigner, err := r.newKeys.Verify(section(), bytes.NewReader(buf.Bytes()))
	if err != nil {
		return item, fmt.Errorf("check the new signature: %w", err)
	}
	if err := r.record(ctx, id, audit.Resigned, sum, item.Detail); err != nil {
		return item, err
	}
	if rev == nil {
		// A zip placed in the bucket by other means: the record keeps
		// what is known, so that the signature replaced is not lost.
		rev = &api.Revision{Name: id.Name, Version: id.Version, Size: size, SHA256: sum}
		if servedErr == nil {
			rev.Signer = &api.Signer{KeyID: servedSigner.KeyID, Fingerprint: servedSigner.Fingerprint}
		}
	}
	if owner != nil {
		rev.OwnerSignature = string(owner)
	}
	rev.StoreSigner = &api.Signer{KeyID: newSigner.KeyID, Fingerprint: newSigner.Fingerprint}
	if err := provenance.Write(ctx, b.Internal, *rev); err != nil {
		return item, err
	}
	if err := b.Public.WriteAll(ctx, storage.SignatureKey(id), newSigner.Armored, &storage.WriterOptions{ContentType: "application/pgp-signature"}); err != nil {
		return item, fmt.Errorf("write signature: %w", err)
	}
	item.Outcome = Resigned
	r.log.Info("re-signed", "package", id.String(), "by", item.Detail)
	return item, nil
}

// readSignature reads a served signature, at most one byte more than
// signature.MaxSignatureSize (Verify then refuses it as too large): a
// bucket's writer cannot make a run read gigabytes into memory.
func readSignature(ctx context.Context, b *storage.Bucket, key string) ([]byte, error) {
	r, err := b.NewReader(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, signature.MaxSignatureSize+1))
}

// record writes the audit record of the run's event for id, once per run.
func (r *run) record(ctx context.Context, id packageid.ID, ev audit.Event, sum, detail string) error {
	if r.cfg.Audit == nil || r.cfg.DryRun {
		return nil
	}
	rec := audit.Record{ID: r.res.Run, Event: ev, Client: r.cfg.Client, Package: id.Name, Version: id.Version, SHA256: sum, KeyID: r.keyID, Fingerprint: r.cfg.Key.Fingerprint(), Reasons: []string{detail}}
	// Durable on its own, before the signature is replaced: a power cut
	// never leaves a re-signed signature without its record.
	if err := r.cfg.Audit.Put(ctx, rec); err != nil {
		return fmt.Errorf("audit %s: %w", ev, err)
	}
	return nil
}

// open returns the zip as a local file (a copy for cloud buckets, removed
// when closed), its size and sha256.
func (r *run) open(ctx context.Context, id packageid.ID) (*os.File, int64, string, error) {
	key := storage.ZipKey(id)
	b := r.cfg.Buckets.Public
	f, err := b.OpenLocal(key)
	if err != nil {
		return nil, 0, "", fmt.Errorf("open %s: %w", key, err)
	}
	h := sha256.New()
	if f != nil {
		n, err := io.Copy(h, io.LimitReader(f, MaxZipSize+1))
		if err != nil {
			f.Close()
			return nil, 0, "", fmt.Errorf("read %s: %w", key, err)
		}
		if n > MaxZipSize {
			f.Close()
			return nil, 0, "", fmt.Errorf("%s is larger than %d bytes", key, MaxZipSize)
		}
		return f, n, hex.EncodeToString(h.Sum(nil)), nil
	}
	rd, err := b.NewReader(ctx, key)
	if err != nil {
		return nil, 0, "", fmt.Errorf("open %s: %w", key, err)
	}
	defer rd.Close()
	f, err = os.CreateTemp(r.cfg.TempDir, "pkgstore-resign-*.zip")
	if err != nil {
		return nil, 0, "", err
	}
	os.Remove(f.Name()) // unlinked: nothing left behind
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rd, MaxZipSize+1))
	if err != nil {
		f.Close()
		return nil, 0, "", fmt.Errorf("read %s: %w", key, err)
	}
	if n > MaxZipSize {
		f.Close()
		return nil, 0, "", fmt.Errorf("%s is larger than %d bytes", key, MaxZipSize)
	}
	return f, n, hex.EncodeToString(h.Sum(nil)), nil
}
