package resign_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/govern/resign"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// fixture is a store on folders with revisions written as the publishing
// job writes them.
type fixture struct {
	t                testing.TB
	b                *storage.Buckets
	owner, old, next *sigtest.Key
}

func newFixture(t testing.TB) *fixture {
	b, err := storage.Open(context.Background(), storage.Config{DataDir: filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &fixture{t: t, b: b, owner: sigtest.NewKey(t, "owner"), old: sigtest.NewKey(t, "old-store"), next: sigtest.NewKey(t, "new-store")}
}

// publish writes NAME-1.0.0: zip, served signature (by served, nil for
// none) and a provenance record (when rev is true) keeping the owner's
// signature when the store signed.
func (f *fixture) publish(name string, served *sigtest.Key, rev bool) []byte {
	f.t.Helper()
	return f.publishWith(name, ziptest.Package(f.t, name, "1.0.0"), served, rev)
}

func (f *fixture) publishWith(name string, zip []byte, served *sigtest.Key, rev bool) []byte {
	f.t.Helper()
	ctx := context.Background()
	id := packageid.ID{Name: name, Version: "1.0.0"}
	ownerSig := f.owner.Sign(f.t, zip)
	if served != nil {
		if err := f.b.Public.WriteAll(ctx, storage.SignatureKey(id), served.Sign(f.t, zip), nil); err != nil {
			f.t.Fatal(err)
		}
	}
	if rev {
		sum := sha256.Sum256(zip)
		r := api.Revision{Name: name, Version: "1.0.0", Size: int64(len(zip)), SHA256: hex.EncodeToString(sum[:]), Signer: &api.Signer{Fingerprint: f.owner.Fingerprint}, Submission: "s-" + name}
		if served != nil && served != f.owner {
			r.StoreSigner = &api.Signer{Fingerprint: served.Fingerprint}
			r.OwnerSignature = string(ownerSig)
		}
		if err := provenance.Write(ctx, f.b.Internal, r); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.b.Public.WriteAll(ctx, storage.ZipKey(id), zip, nil); err != nil {
		f.t.Fatal(err)
	}
	return zip
}

func (f *fixture) served(name string) []byte {
	data, err := f.b.Public.ReadAll(context.Background(), storage.SignatureKey(packageid.ID{Name: name, Version: "1.0.0"}))
	if err != nil && !storage.IsNotFound(err) {
		f.t.Fatal(err)
	}
	return data
}

func TestResign(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	zips := map[string][]byte{
		"storesigned": f.publish("storesigned", f.old, true),                 // by the old store key
		"ownersigned": f.publish("ownersigned", f.owner, true),               // before the store signed
		"nosig":       f.publish("nosig", nil, true),                         // unsigned stays unsigned
		"noprov":      f.publish("noprov", f.owner, false),                   // copied in, no provenance
		"badserved":   f.publish("badserved", f.old, true),                   // served signature broken, owner's kept
		"tampered":    f.publish("tampered", f.old, true),                    // zip replaced after publication
		"untrusted":   f.publish("untrusted", sigtest.NewKey(t, "x"), false), // nothing trusted vouches
		"hugesig":     f.publish("hugesig", f.old, false),                    // a 32 MiB "signature"
	}
	// hugesig: read no further than a signature can be, and refused.
	f.b.Public.WriteAll(ctx, storage.SignatureKey(packageid.ID{Name: "hugesig", Version: "1.0.0"}), bytes.Repeat([]byte("A"), 32<<20), nil)
	// badserved: the served signature is another zip's.
	f.b.Public.WriteAll(ctx, storage.SignatureKey(packageid.ID{Name: "badserved", Version: "1.0.0"}), f.old.Sign(t, []byte("other")), nil)
	// tampered: new bytes, and a signature by the old store key over them
	// (the bucket's writer cannot change the provenance's sha256).
	evil := ziptest.Package(t, "tampered", "1.0.0", ziptest.Entry{Name: "tampered-1.0.0/evil.sh", Body: []byte("rm -rf /\n")})
	f.b.Public.WriteAll(ctx, storage.ZipKey(packageid.ID{Name: "tampered", Version: "1.0.0"}), evil, nil)
	f.b.Public.WriteAll(ctx, storage.SignatureKey(packageid.ID{Name: "tampered", Version: "1.0.0"}), f.old.Sign(t, evil), nil)
	before := map[string][]byte{}
	for name := range zips {
		before[name] = f.served(name)
	}
	trusted := f.old.Keyring
	cfg := resign.Config{Buckets: f.b, Key: f.next.Signer, Trusted: signatureMerge(trusted, f.owner), Audit: audit.New(f.b.Internal), Client: "test"}

	// A dry run writes nothing.
	dry := cfg
	dry.DryRun = true
	if res, err := resign.Run(ctx, dry); !errors.Is(err, resign.ErrRefused) || res.Resigned != 4 || res.Refused != 3 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	for name := range zips {
		if !bytes.Equal(f.served(name), before[name]) {
			t.Fatalf("dry run changed %s's signature", name)
		}
	}

	res, err := resign.Run(ctx, cfg)
	if !errors.Is(err, resign.ErrRefused) {
		t.Fatalf("run: %v", err)
	}
	got := map[string]resign.Item{}
	for _, it := range res.Items {
		got[it.Package] = it
	}
	want := map[string]resign.Outcome{"storesigned": resign.Resigned, "ownersigned": resign.Resigned, "nosig": resign.Unsigned, "noprov": resign.Resigned, "badserved": resign.Resigned, "tampered": resign.Refused, "untrusted": resign.Refused, "hugesig": resign.Refused}
	for name, o := range want {
		if got[name].Outcome != o {
			t.Errorf("%s: %s (%s), want %s", name, got[name].Outcome, got[name].Detail, o)
		}
	}
	if d := got["tampered"].Detail; !strings.Contains(d, "is not the published") {
		t.Errorf("tampered: %q does not say the zip changed", d)
	}
	if d := got["badserved"].Detail; !strings.Contains(d, "owner's signature") {
		t.Errorf("badserved vouched by %q, want the owner's signature", d)
	}
	for name, zip := range zips {
		sig := f.served(name)
		switch want[name] {
		case resign.Resigned:
			if _, err := f.next.Keyring.Verify(bytes.NewReader(zip), bytes.NewReader(sig)); err != nil {
				t.Errorf("%s: served signature is not the new key's: %v", name, err)
			}
			rev, err := provenance.Read(ctx, f.b.Internal, packageid.ID{Name: name, Version: "1.0.0"})
			if err != nil {
				t.Fatal(err)
			}
			if rev.StoreSigner == nil || rev.StoreSigner.Fingerprint != f.next.Fingerprint {
				t.Errorf("%s: store signer %+v", name, rev.StoreSigner)
			}
			// The owner's signature is kept, whoever served before.
			if _, err := f.owner.Keyring.Verify(bytes.NewReader(zip), strings.NewReader(rev.OwnerSignature)); err != nil {
				t.Errorf("%s: provenance keeps no owner's signature: %v", name, err)
			}
		default:
			if !bytes.Equal(sig, before[name]) && name != "tampered" {
				t.Errorf("%s: signature changed", name)
			}
		}
	}
	// The tampered zip keeps its signature: never re-signed.
	if _, err := f.next.Keyring.Verify(bytes.NewReader(evil), bytes.NewReader(f.served("tampered"))); err == nil {
		t.Fatal("the tampered zip was re-signed")
	}
	recs, err := audit.New(f.b.Internal).All(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[audit.Event]int{}
	for _, r := range recs {
		count[r.Event]++
		if r.Fingerprint != f.next.Fingerprint || r.ID != res.Run {
			t.Errorf("audit record %+v", r)
		}
	}
	if count[audit.Resigned] != 4 || count[audit.ResignRefused] != 3 {
		t.Errorf("audit: %v", count)
	}
	// Idempotent: a second run re-signs nothing.
	res, err = resign.Run(ctx, cfg)
	if !errors.Is(err, resign.ErrRefused) || res.Resigned != 0 || res.Skipped != 4 || res.Resumed {
		t.Fatalf("second run: %+v %v", res, err)
	}
}

func signatureMerge(k *signature.Keyring, more ...*sigtest.Key) *signature.Keyring {
	out := k
	for _, m := range more {
		out = signature.Merge(out, m.Keyring)
	}
	return out
}
