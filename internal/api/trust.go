package api

import "time"

// Types of the signed index documents (docs/trust.md): the "_type" field
// of each, so that a signature over one kind is never taken for another.
const (
	IndexStatementType = "pkgstore-index-statement/v1"
	IndexSnapshotType  = "pkgstore-index-snapshot/v1"
)

// IndexStatement is the signed statement an indexer writes for a cursor
// before moving cursor.json to it (TUF's timestamp, Debian's InRelease):
// which index is current, that it is no older than the last one (Version
// only grows), until when it may be trusted (Expires), and the hashes that
// bind it to its files. Served at GET /api/v1/trust/index with a detached
// OpenPGP signature at /api/v1/trust/index.sig.
type IndexStatement struct {
	Type string `json:"_type"`
	// Version numbers the store's statements 1, 2, 3, …: each pass that
	// moves the cursor, and each re-issue before expiry, takes the next.
	Version uint64    `json:"version"`
	Cursor  string    `json:"cursor"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	// IndexSHA256 and DeltaSHA256 are the hex SHA-256 of the cursor's
	// search-index-all.json and search-index-delta.json ("" when the
	// cursor has no delta).
	IndexSHA256 string `json:"search_index_all_sha256"`
	DeltaSHA256 string `json:"search_index_delta_sha256"`
	// Revisions is the number of revisions the index holds.
	Revisions int `json:"revisions"`
	// SnapshotSHA256 is the hex SHA-256 of the snapshot document issued
	// with this statement (IndexSnapshot).
	SnapshotSHA256 string `json:"snapshot_sha256"`
	// Previous is the hex SHA-256 of the statement of Version-1 ("" for
	// the first): the statements form a chain that can be walked.
	Previous string `json:"previous_sha256"`
}

// IndexSnapshot lists every revision an index offers with its zip's
// SHA-256 and size (TUF's snapshot and targets in one), signed like the
// statement of the same Version. Served at GET /api/v1/trust/snapshot
// (and .sig).
type IndexSnapshot struct {
	Type      string             `json:"_type"`
	Version   uint64             `json:"version"`
	Cursor    string             `json:"cursor"`
	Issued    time.Time          `json:"issued"`
	Expires   time.Time          `json:"expires"`
	Revisions []SnapshotRevision `json:"revisions"`
}

// SnapshotRevision is one offered revision's zip.
type SnapshotRevision struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
}

// SignedDocument is how the store keeps a signed document: the exact bytes
// signed and their armored detached signature, in one object so that
// neither can be written without the other.
type SignedDocument struct {
	Body      []byte `json:"body"`
	Signature string `json:"signature"`
}
