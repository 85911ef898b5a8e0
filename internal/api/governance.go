package api

import "time"

// Revision is the provenance record of a published revision: the bytes and
// the key it was published with, and who published it. The store keeps it
// in the internal bucket under pkgstore/revisions/NAME-VERSION.json
// (govern/provenance) and serves it in RevisionInfo.
type Revision struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	// Signer is the owner's key: the one whose signature, verified
	// against the store's keyring, the zip was published with.
	Signer *Signer `json:"signer,omitempty"`
	// StoreSigner is the store's own key that made the signature served
	// as NAME-VERSION.zip.sig, when the store signs with its own key
	// (serve --store-signing-key, pkgstore resign);
	// nil when the served signature is the owner's.
	StoreSigner *Signer `json:"store_signer,omitempty"`
	// OwnerSignature is the owner's armored detached signature, kept when
	// the store serves its own in its place.
	OwnerSignature string `json:"owner_signature,omitempty"`
	// UpstreamSignature is the upstream's armored detached signature of
	// a revision a mirror or import operator re-signed with their own key
	// (mirror --resign-key): the operator verified it before re-signing,
	// and the store keeps it as provenance.
	UpstreamSignature string `json:"upstream_signature,omitempty"`
	// UpstreamSigner is the key that made UpstreamSignature, set only
	// when the store's own keyring verifies it over the zip; nil when
	// the store does not hold the upstream's key (the mirror verified it).
	UpstreamSigner *Signer   `json:"upstream_signer,omitempty"`
	Submission     string    `json:"submission"`
	Token          string    `json:"token,omitempty"`
	Client         string    `json:"client,omitempty"`
	Legacy         bool      `json:"legacy"`
	Published      time.Time `json:"published"`
}

// YankState is one generation of a revision's yank state (govern/yank
// keeps each as a write-once object).
type YankState struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Yanked  bool      `json:"yanked"`
	Reason  string    `json:"reason,omitempty"`
	Token   string    `json:"token,omitempty"`
	Client  string    `json:"client,omitempty"`
	Time    time.Time `json:"time"`
	// Generation counts the yanks and unyanks of the revision.
	Generation int `json:"generation"`
	// AuditID is the id of the audit record of this change.
	AuditID string `json:"audit_id"`
}

// YankRequest is the body of POST /api/v1/yank and /api/v1/unyank.
type YankRequest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

// YankResponse answers a yank or unyank.
type YankResponse struct {
	State   YankState `json:"state"`
	Changed bool      `json:"changed"`
}

// RevisionInfo answers GET /api/v1/packages/{name}/{version}.
type RevisionInfo struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Published bool   `json:"published"`
	// Revision is the provenance record (absent for zips copied into the
	// bucket by other means).
	Revision *Revision `json:"revision,omitempty"`
	Yanked   bool      `json:"yanked"`
	// Yank is the latest yank or unyank, History all of them.
	Yank    *YankState  `json:"yank,omitempty"`
	History []YankState `json:"yank_history,omitempty"`
}

// AuditEvent is what an audit record says happened (govern/audit names
// them).
type AuditEvent string

// AuditRecord is one audit event, as stored and as GET /api/v1/audit
// answers it.
type AuditRecord struct {
	// ID is the record's identity: <unix ns>-<random>, the submission id
	// for a submission's events.
	ID      string     `json:"id"`
	Event   AuditEvent `json:"event"`
	Time    time.Time  `json:"time"`
	Token   string     `json:"token,omitempty"` // token name, never a secret
	Client  string     `json:"client,omitempty"`
	Package string     `json:"package,omitempty"`
	Version string     `json:"version,omitempty"`
	Size    int64      `json:"size,omitempty"`
	SHA256  string     `json:"sha256,omitempty"`
	// KeyID and Fingerprint identify the key that signed the zip.
	KeyID       string `json:"signing_key_id,omitempty"`
	Fingerprint string `json:"signing_key_fingerprint,omitempty"`
	Submission  string `json:"submission,omitempty"`
	// Reasons of a refusal.
	Reasons []string `json:"reasons,omitempty"`
	// Reason given for a yank or unyank.
	Reason string `json:"reason,omitempty"`
	// Action is what a refused token tried (publish, yank, audit…).
	Action string `json:"action,omitempty"`
	// Suppressed counts the refusals of a token that a
	// token_refusals_suppressed record stands for (recorded one by one
	// they would have been token_refused records), refused from
	// WindowStart to WindowEnd; their Reasons read "N× reason".
	Suppressed  int       `json:"suppressed,omitzero"`
	WindowStart time.Time `json:"window_start,omitzero"`
	WindowEnd   time.Time `json:"window_end,omitzero"`
}

// AuditPage is one page of audit records, oldest first.
type AuditPage struct {
	Records []AuditRecord `json:"records"`
	// Next continues the query; empty on the last page.
	Next string `json:"next,omitempty"`
}

// CollectAudit gathers the records of every page, asking page for the one
// at cursor (first the given one, then each page's Next) until a page has
// no Next: for the log itself and for clients of its HTTP API.
func CollectAudit(cursor string, page func(cursor string) (*AuditPage, error)) ([]AuditRecord, error) {
	var out []AuditRecord
	for {
		p, err := page(cursor)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Records...)
		if p.Next == "" {
			return out, nil
		}
		cursor = p.Next
	}
}
