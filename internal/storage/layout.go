package storage

import (
	"fmt"

	"pkgstore/internal/pkg/packageid"
)

// Object keys of the public bucket (architecture.md §3). The real EPR reads
// this layout, so it must not change.
const (
	PackagesPrefix = "artifacts/packages/"
	StaticPrefix   = "artifacts/static/"
)

// Object keys of the internal bucket.
const (
	QueuePrefix    = "queue-publishing/"
	MetadataPrefix = "v2/metadata/"
	CursorKey      = MetadataPrefix + "cursor.json"

	// Everything else of ours lives under OwnPrefix so that it never collides
	// with what EPR or the original infrastructure reads.
	OwnPrefix         = "pkgstore/"
	DocumentsPrefix   = OwnPrefix + "packages/"
	SubmissionsPrefix = OwnPrefix + "submissions/"
	ClaimsPrefix      = OwnPrefix + "claims/"
	IndexInfoPrefix   = OwnPrefix + "index/"
	RevisionsPrefix   = OwnPrefix + "revisions/"
	ProxyCachePrefix  = OwnPrefix + "proxy-cache/"
	RenderedPrefix    = OwnPrefix + "rendered/"
	// LogPrefix holds the transparency log (govern/translog): records,
	// stored hashes, tiles at tlog.Tile.Path, the latest signed tree head.
	LogPrefix = OwnPrefix + "log/"
)

// ZipKey is the public key of a published zip: its existence means "published".
func ZipKey(id packageid.ID) string { return PackagesPrefix + id.ZipName() }

// SignatureKey is the public key of a zip's detached signature.
func SignatureKey(id packageid.ID) string { return ZipKey(id) + ".sig" }

// StaticKey is the public key of a file extracted from a package; rel is the
// path inside the package root (e.g. "docs/README.md").
func StaticKey(id packageid.ID, rel string) string { return StaticPrefix + id.String() + "/" + rel }

// DocumentKey is the internal key of a revision's package document (the JSON
// EPR serves at /package/N/V/), written at publish time so the indexer never
// reopens zips.
func DocumentKey(id packageid.ID) string { return DocumentsPrefix + id.String() + ".json" }

// RenderedKey is the internal key of a revision's package text rendered
// for the web catalog (markdown.Record: the README's sanitised HTML, the
// changelog), written by the publishing job beside the package document,
// or by the catalog at the first view of a revision published before.
func RenderedKey(id packageid.ID) string { return RenderedPrefix + id.String() + ".json" }

// RevisionKey is the internal key of a published revision's provenance
// record (sha256, signing key, submission, token), written before its zip.
func RevisionKey(id packageid.ID) string { return RevisionsPrefix + id.String() + ".json" }

// ProxyCacheKey is the internal key of the record of a revision the
// pull-through cache published from its upstream (and so may evict).
func ProxyCacheKey(id packageid.ID) string { return ProxyCachePrefix + id.String() + ".json" }

// ClaimPrefix starts the internal keys of NAME-VERSION's claims,
// ClaimPrefix(id)+"<generation>": a publishing worker creates one to own
// NAME-VERSION before it writes anything public. Claims are flat objects,
// not folders, and '@' cannot occur in a name or version, so listing one
// revision's claims never sees another's.
func ClaimPrefix(id packageid.ID) string { return ClaimsPrefix + id.String() + "@" }

// SubmissionKey is the internal key of a submission's status record.
func SubmissionKey(subID string) string { return SubmissionsPrefix + subID + ".json" }

// QueueDir is the internal prefix holding one submission's candidate files.
func QueueDir(subID string) string { return QueuePrefix + subID + "/" }

// IndexAllKey and IndexDeltaKey are the index files of one cursor.
func IndexAllKey(cursor string) string   { return MetadataPrefix + cursor + "/search-index-all.json" }
func IndexDeltaKey(cursor string) string { return MetadataPrefix + cursor + "/search-index-delta.json" }

// IndexSnapshotKey is the catalog snapshot of a cursor's index (the
// registry's catalog in binary form, registry/catalog/snapshot.go),
// written before the cursor moves there; a start reads it instead of
// parsing the JSON index.
func IndexSnapshotKey(cursor string) string { return IndexInfoPrefix + cursor + ".catalog" }

// IndexInfoKey records our own facts about a cursor (the cursor it was built on).
func IndexInfoKey(cursor string) string { return IndexInfoPrefix + cursor + ".json" }

// ResignProgressKey is the internal key of `pkgstore resign`'s progress
// record: the run, its key and the last revision done, so that an
// interrupted run resumes where it stopped.
const ResignProgressKey = OwnPrefix + "resign/progress.json"

// Keys of the signed index statements and snapshots (publish/indexsig,
// docs/trust.md). They live under OwnPrefix: EPR never reads them.
const (
	TrustPrefix = OwnPrefix + "trust/"
	// TrustLatestKey holds a copy of the newest statement: where a reader
	// starts looking for the newest version (which it then confirms).
	TrustLatestKey = TrustPrefix + "latest.json"
)

// TrustStatementKey is the write-once key of statement version v (kept
// forever, so that the chain can be walked; created if absent, so that two
// indexers never issue the same version).
func TrustStatementKey(v uint64) string { return fmt.Sprintf("%sindex/%020d.json", TrustPrefix, v) }

// TrustCursorKey holds the newest statement issued for cursor: what a
// replica that reads cursor.json checks.
func TrustCursorKey(cursor string) string { return TrustPrefix + "cursors/" + cursor + ".json" }

// TrustSnapshotKey is the key of a signed snapshot, named by the SHA-256
// of its body (which its statement holds).
func TrustSnapshotKey(sha256 string) string { return TrustPrefix + "snapshots/" + sha256 + ".json" }
