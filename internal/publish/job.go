package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/mediatype"
	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/storage"
)

// run checks and publishes one submission. It returns the reasons for a
// refusal, or an error when the work could not be done (I/O), in which case
// nothing public is left half-written and the submission may be retried.
func (p *Publisher) run(ctx context.Context, s *api.Submission, l *lease) ([]api.Reason, error) {
	id := packageid.ID{Name: s.Name, Version: s.Version}
	// An earlier attempt of this submission may have claimed NAME-VERSION
	// and written some or all of it before it died.
	holder, err := p.claimHolder(ctx, id)
	if err != nil {
		return nil, err
	}
	ours := holder == s.ID && !s.DryRun
	// Write-once, checked first because it is cheap.
	published, err := p.b.Public.Exists(ctx, storage.ZipKey(id))
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", storage.ZipKey(id), err)
	}
	if published {
		if ours {
			return nil, nil // our earlier attempt published it: done
		}
		return []api.Reason{alreadyPublished(id)}, nil
	}
	reasons, err := p.checkAndWrite(ctx, s, id, l)
	if len(reasons) > 0 && ours {
		// Refused on retry (keys rotated, limits changed…) after an earlier
		// attempt wrote files: remove them, unless we lost the lease.
		if err := p.checkLease(ctx, l); err != nil {
			return nil, err
		}
		p.cleanup(context.WithoutCancel(ctx), id, s)
	}
	return reasons, err
}

// checkAndWrite runs every check on the candidate and, unless it is a dry
// run, claims NAME-VERSION and writes it.
func (p *Publisher) checkAndWrite(ctx context.Context, s *api.Submission, id packageid.ID, l *lease) ([]api.Reason, error) {
	zipName := id.ZipName()

	f, size, sum, err := p.spool(ctx, storage.QueueDir(s.ID)+zipName)
	if err != nil {
		if storage.IsNotFound(err) {
			return []api.Reason{{Check: api.CheckZip, File: zipName, Message: "the candidate zip is missing from the queue"}}, nil
		}
		return nil, err
	}
	defer f.Close()
	s.Size, s.SHA256 = size, sum
	if size > p.cfg.MaxZipSize {
		return []api.Reason{{Check: api.CheckSize, File: zipName, Message: fmt.Sprintf("zip is larger than the limit of %d bytes", p.cfg.MaxZipSize)}}, nil
	}

	// Signature over the exact bytes.
	sig, err := p.b.Internal.ReadAll(ctx, storage.QueueDir(s.ID)+zipName+".sig")
	switch {
	case storage.IsNotFound(err):
		sig = nil
	case err != nil:
		return nil, fmt.Errorf("read queued signature: %w", err)
	}
	s.Signed = sig != nil
	if r := p.checkSignature(f, &sig, s, zipName); r != nil {
		return []api.Reason{*r}, nil
	}
	upstream, r, err := p.checkUpstream(ctx, f, size, s, zipName, sig != nil)
	if err != nil || r != nil {
		if r != nil {
			return []api.Reason{*r}, nil
		}
		return nil, err
	}

	// The zip itself. Where the static files' tree stays private until
	// committed (file buckets), they are extracted by the same read that
	// verifies every entry, rather than read and inflated a second time
	// once the checks have passed; a refusal discards the tree.
	var tree storage.Tree
	var sink archive.CopyFunc
	if !s.DryRun {
		if tree, err = p.b.Public.NewTree(ctx, storage.StaticPrefix+id.String()+"/"); err != nil {
			return nil, err
		}
		defer tree.Discard()
		if tree.Private() {
			first := true
			sink = func(file *archive.File, r io.Reader) error {
				// File buckets keep no content type: none to sniff.
				if err := tree.WriteFile(ctx, file.Path, r, nil); err != nil {
					return err
				}
				if first {
					first = false
					p.step("static")
				}
				return nil
			}
		}
	}
	pkg, err := archive.OpenInto(f, size, id, p.cfg.Limits, sink)
	if err != nil {
		if ce := (*archive.CopyError)(nil); errors.As(err, &ce) {
			return nil, fmt.Errorf("extract static files: %w", err)
		}
		return archiveReasons(zipName, err), nil
	}
	if !s.Legacy && p.cfg.Validate != nil {
		problems, err := p.cfg.Validate(ctx, pkg.FS)
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		if len(problems) > 0 {
			return problems, nil
		}
	}
	doc, err := packagedoc.Build(pkg.FS, packagedoc.Options{Signed: sig != nil, FileOrder: pkg.Paths()})
	if err != nil {
		return []api.Reason{{Check: api.CheckManifest, File: zipName, Message: "cannot build the package document: " + err.Error()}}, nil
	}
	docJSON, err := packagedoc.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode package document: %w", err)
	}
	// EPR loads an index all or nothing: one document it cannot unmarshal
	// (a constraint that does not parse, a format_version that is not
	// strict semver) would take every registry reading the index down.
	// Legacy packages skip package-spec, not this.
	if check := p.cfg.CheckDocument; check != nil {
		if err := check(index.Entry{ID: id, Manifest: docJSON}); err != nil {
			return []api.Reason{{Check: api.CheckManifest, File: zipName + ": " + id.String() + "/manifest.yml", Message: "the package document would not load in a registry: " + err.Error()}}, nil
		}
	}
	if p.cfg.Shadowed != nil {
		if where, ok := p.cfg.Shadowed(id); ok {
			return []api.Reason{{Check: api.CheckDuplicate, File: zipName, Message: fmt.Sprintf("%s is served from the package path %s, which is read-only; publishing it would replace what is served (the store wins a duplicate NAME-VERSION): change the version, or remove it from the package path first", id, where)}}, nil
		}
	}
	if r, err := p.loggedOther(ctx, id, sum); err != nil || r != nil {
		if r != nil {
			return []api.Reason{*r}, nil
		}
		return nil, err
	}
	if s.DryRun {
		return nil, nil
	}

	// Own NAME-VERSION before writing anything public.
	reason, err := p.claim(ctx, id, s)
	if err != nil {
		return nil, err
	}
	if reason != nil {
		return []api.Reason{*reason}, nil
	}
	p.step("claimed")
	rendered, err := p.renderText(ctx, id, doc, pkg)
	if err != nil {
		return nil, err
	}
	pub := &publication{
		sub: s, id: id, lease: l,
		pkg: pkg, tree: tree, extracted: sink != nil,
		zip: f, size: size, sig: sig, upstream: upstream, doc: docJSON, rendered: rendered,
	}
	if err := p.write(ctx, pub); err != nil {
		// Leave the files for the retry (it rewrites them) or for the
		// refusal path of run, which removes them.
		return nil, err
	}
	return nil, nil
}

// busyError is returned while another submission of the same NAME-VERSION
// is in progress; the job requeues the candidate until ClaimWait is over.
type busyError struct{ reason api.Reason }

func (e *busyError) Error() string { return e.reason.Message }

func alreadyPublished(id packageid.ID) api.Reason {
	return api.Reason{Check: api.CheckDuplicate, File: id.ZipName(), Message: fmt.Sprintf("%s is already published; published packages never change, publish a new version instead", id)}
}

// checkSignature verifies *sigp over the zip and replaces it with what the
// store keeps and serves: the canonical armor (signature.Signer.Armored),
// never text around it.
func (p *Publisher) checkSignature(f *os.File, sigp *[]byte, s *api.Submission, zipName string) *api.Reason {
	sigFile := zipName + ".sig"
	sig := *sigp
	if sig == nil {
		if p.cfg.RequireSignatures {
			return &api.Reason{Check: api.CheckSignature, File: sigFile, Message: "no signature was supplied and signatures are required; sign the zip (pkgstore sign) and send NAME-VERSION.zip.sig with it"}
		}
		return nil
	}
	if p.cfg.Keyring == nil || p.cfg.Keyring.Len() == 0 {
		return &api.Reason{Check: api.CheckSignature, File: sigFile, Message: "a signature was supplied but the store has no trusted keyring to verify it (serve --keyring FILE)"}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &api.Reason{Check: api.CheckSignature, File: sigFile, Message: err.Error()}
	}
	signer, err := p.cfg.Keyring.Verify(f, bytes.NewReader(sig))
	if err != nil {
		msg := err.Error()
		if errors.Is(err, signature.ErrUnknownKey) {
			msg += "; expected a key of the trusted keyring"
		}
		return &api.Reason{Check: api.CheckSignature, File: sigFile, Message: msg}
	}
	s.Signer = &api.Signer{KeyID: signer.KeyID, Fingerprint: signer.Fingerprint}
	*sigp = signer.Armored
	return nil
}

func archiveReasons(zipName string, err error) []api.Reason {
	var out []api.Reason
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				walk(inner)
			}
			return
		}
		var ae *archive.Error
		if errors.As(e, &ae) {
			file := zipName
			if ae.File != "" {
				file = zipName + ": " + ae.File
			}
			out = append(out, api.Reason{Check: ae.Check, File: file, Message: ae.Msg})
			return
		}
		out = append(out, api.Reason{Check: api.CheckZip, File: zipName, Message: e.Error()})
	}
	walk(err)
	return out
}

// publication is one checked candidate, ready to be written.
type publication struct {
	sub   *api.Submission
	id    packageid.ID
	lease *lease // the submission's lease; only its holder may commit

	pkg       *archive.Package // the opened zip
	tree      storage.Tree     // receives the static files
	extracted bool             // the static files are in tree already

	zip  *os.File // the candidate zip, size bytes
	size int64
	sig  []byte // detached signature, nil when unsigned
	// upstream is the upstream's signature of a re-signed mirror
	// (Options.UpstreamSignature), kept in the provenance; nil if none.
	upstream *upstreamSig
	doc      []byte // package document JSON

	rendered []byte // README and changelog for the catalog (markdown.Record); nil: rendered at first view
}

// write performs the publication's writes in their safe order: static files,
// signature, rendered package text, package document, then the zip, created
// only if absent.
func (p *Publisher) write(ctx context.Context, pub *publication) error {
	s, id, l := pub.sub, pub.id, pub.lease
	tree, f, size, sig, docJSON := pub.tree, pub.zip, pub.size, pub.sig, pub.doc
	if !pub.extracted {
		if err := p.writeStatics(ctx, pub.pkg, tree); err != nil {
			return err
		}
	}
	// The static files appear together (file buckets) when the tree is
	// committed, before the zip.
	if err := tree.Commit(ctx); err != nil {
		return err
	}
	p.step("statics")
	// With a store key, the signature served is the store's, made over
	// the same bytes; the owner's goes into the provenance record. Both
	// are written before the zip, as the owner's alone was.
	var st *storeSigned
	if sig != nil && p.cfg.StoreKey != nil {
		var err error
		if st, err = p.storeSign(f, size, sig); err != nil {
			return err
		}
		sig = st.served
	}
	if sig != nil {
		if err := p.b.Public.WriteAll(ctx, storage.SignatureKey(id), sig, &storage.WriterOptions{ContentType: "application/pgp-signature"}); err != nil {
			return fmt.Errorf("write signature: %w", err)
		}
		p.step("signature")
	}
	if pub.rendered != nil {
		if err := p.b.Internal.WriteAll(ctx, storage.RenderedKey(id), pub.rendered, &blobJSON); err != nil {
			return fmt.Errorf("write rendered package text: %w", err)
		}
	}
	if err := p.b.Internal.WriteAll(ctx, storage.DocumentKey(id), docJSON, &blobJSON); err != nil {
		return fmt.Errorf("write package document: %w", err)
	}
	p.step("document")
	// Provenance and the audit record before the zip: a published zip
	// always has both.
	if err := p.writeProvenance(ctx, s, id, size, st, pub.upstream); err != nil {
		return err
	}
	p.step("audit")
	if err := p.logPublication(ctx, s, id, size); err != nil {
		return err
	}
	p.step("log")
	// The zip is the commit point. Durability (file buckets, where objects
	// are written without fsync; see storage.Bucket.Sync): the zip's bytes
	// are staged in the bucket, then one Sync makes them and everything
	// written above durable before the zip can be seen; the link that
	// publishes it is made durable by a second Sync before the job records
	// the submission as published. A power failure therefore never leaves
	// a visible zip whose static files, signature, document or records are
	// missing, and never loses a publication reported as published. The
	// Syncs are group commits shared by every publication in flight.
	staged, err := p.b.Public.StageFile(ctx, storage.ZipKey(id), f, size, &storage.WriterOptions{ContentType: "application/zip"})
	if err != nil {
		return err
	}
	defer staged.Discard()
	if err := p.b.Sync(ctx); err != nil {
		return err
	}
	// Only the lease holder may commit.
	if err := p.checkLease(ctx, l); err != nil {
		return err
	}
	err = staged.Commit(ctx)
	if errors.Is(err, storage.ErrExists) {
		// Only our own earlier attempt can have written it: we hold the claim.
		if holder, _ := p.claimHolder(ctx, id); holder == s.ID {
			return nil
		}
		return fmt.Errorf("zip appeared while claimed by %s: %w", s.ID, err)
	}
	if err != nil {
		return err
	}
	p.step("zip")
	if err := p.b.Public.Sync(ctx); err != nil {
		return err
	}
	return nil
}

// writeStatics writes every file of pkg into tree, several at once.
func (p *Publisher) writeStatics(ctx context.Context, pkg *archive.Package, tree storage.Tree) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, file := range pkg.Files {
		g.Go(func() error {
			rc, err := file.Open()
			if err != nil {
				return fmt.Errorf("read %s from zip: %w", file.Path, err)
			}
			defer rc.Close()
			// The stored type is what EPR's storage indexer relays; an
			// unknown extension is sniffed as EPR does over a zip.
			head := make([]byte, mediatype.SniffLen)
			n, err := io.ReadFull(rc, head)
			if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
				return fmt.Errorf("read %s from zip: %w", file.Path, err)
			}
			head = head[:n]
			body := io.MultiReader(bytes.NewReader(head), rc)
			if err := tree.WriteFile(gctx, file.Path, body, &storage.WriterOptions{ContentType: mediatype.ForFile(file.Path, head)}); err != nil {
				return err
			}
			if i == 0 {
				p.step("static")
			}
			return nil
		})
	}
	return g.Wait()
}

// cleanup removes what a failed publication (of submission s) wrote,
// unless the zip made it.
func (p *Publisher) cleanup(ctx context.Context, id packageid.ID, s *api.Submission) {
	if ok, err := p.b.Public.Exists(ctx, storage.ZipKey(id)); err != nil || ok {
		return
	}
	_ = p.b.Public.DeletePrefix(ctx, storage.StaticPrefix+id.String()+"/")
	_ = p.b.Public.Delete(ctx, storage.SignatureKey(id))
	_ = p.b.Internal.Delete(ctx, storage.DocumentKey(id))
	_ = p.b.Internal.Delete(ctx, storage.RenderedKey(id))
	p.dropProvenance(ctx, id, s)
}

// A claim is an object pkgstore/claims/NAME-VERSION@<generation>. The highest
// generation owns NAME-VERSION. Creating a generation is create-if-absent, so
// two workers can never both own one: a worker takes over a stale claim (its
// submission ended without publishing) by creating the next generation.
type claimRecord struct {
	Submission string    `json:"submission"`
	Claimed    time.Time `json:"claimed"`
}

func claimGen(id packageid.ID, gen int) string {
	return fmt.Sprintf("%s%06d", storage.ClaimPrefix(id), gen)
}

// topClaim returns the highest claim generation and its holder (0, "" if none).
//
// Generations are created one after the other (the next is always top+1,
// create-if-absent) and never deleted, so the top is found by reading
// generation 1, 2, … until two in a row do not exist (claims are not synced
// on their own, so a power cut may lose one below a later one): two or
// three reads in practice, where listing the claims folder by prefix costs,
// on a file bucket, a scan of every revision's claims, each time.
func (p *Publisher) topClaim(ctx context.Context, id packageid.ID) (int, string, error) {
	gen, holder := 0, ""
	for next, misses := 1, 0; misses < 2; next++ {
		data, err := p.b.Internal.ReadAll(ctx, claimGen(id, next))
		if storage.IsNotFound(err) {
			misses++
			continue
		}
		if err != nil {
			return 0, "", fmt.Errorf("read claim: %w", err)
		}
		var c claimRecord
		if err := json.Unmarshal(data, &c); err != nil {
			return 0, "", fmt.Errorf("parse claim %d of %s: %w", next, id, err)
		}
		gen, holder, misses = next, c.Submission, 0
	}
	return gen, holder, nil
}

func (p *Publisher) claimHolder(ctx context.Context, id packageid.ID) (string, error) {
	_, holder, err := p.topClaim(ctx, id)
	return holder, err
}

// claim makes submission s the owner of id. It returns a duplicate reason
// if id got published meanwhile, and a *busyError while another live
// submission holds the claim.
func (p *Publisher) claim(ctx context.Context, id packageid.ID, s *api.Submission) (*api.Reason, error) {
	for range 3 {
		gen, holder, err := p.topClaim(ctx, id)
		if err != nil {
			return nil, err
		}
		if holder == s.ID {
			return nil, nil
		}
		if published, err := p.b.Public.Exists(ctx, storage.ZipKey(id)); err != nil {
			return nil, err
		} else if published {
			return &api.Reason{Check: api.CheckDuplicate, File: id.ZipName(), Message: fmt.Sprintf("%s was published by another submission while this one was being checked; published packages never change", id)}, nil
		}
		stale := gen == 0
		if !stale {
			other, err := p.Status(ctx, holder)
			stale = errors.Is(err, ErrUnknownSubmission) || (err == nil && other.Status.Final())
		}
		if !stale {
			return nil, &busyError{api.Reason{Check: api.CheckBusy, File: id.ZipName(), Message: fmt.Sprintf("%s is being published by submission %s; try again later", id, holder)}}
		}
		rec, _ := json.Marshal(claimRecord{Submission: s.ID, Claimed: time.Now().UTC()})
		err = p.b.Internal.CreateIfAbsentNoSync(ctx, claimGen(id, gen+1), bytes.NewReader(rec), &blobJSON)
		if errors.Is(err, storage.ErrExists) {
			continue // lost the race for this generation: look again
		}
		if err != nil {
			return nil, err
		}
		// Someone may have published between our check and the claim.
		if published, err := p.b.Public.Exists(ctx, storage.ZipKey(id)); err != nil {
			return nil, err
		} else if published {
			return &api.Reason{Check: api.CheckDuplicate, File: id.ZipName(), Message: fmt.Sprintf("%s was published by another submission while this one was being checked; published packages never change", id)}, nil
		}
		return nil, nil
	}
	return nil, &busyError{api.Reason{Check: api.CheckBusy, File: id.ZipName(), Message: fmt.Sprintf("%s is contended by several submissions; try again later", id)}}
}
