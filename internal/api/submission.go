package api

import (
	"strings"
	"time"
)

// Status is where a submission stands.
type Status string

// Submission statuses. Passed is the final status of a dry run that passed
// every check (nothing was written).
const (
	StatusQueued     Status = "queued"
	StatusProcessing Status = "processing"
	StatusPublished  Status = "published"
	StatusRejected   Status = "rejected"
	StatusPassed     Status = "passed"
)

// Final reports whether no more work will happen on a submission.
func (s Status) Final() bool {
	return s == StatusPublished || s == StatusRejected || s == StatusPassed
}

// Reason is one cause of a refusal: the check that failed (one of the
// Check constants), the file it concerns, and what was found against what
// was expected.
type Reason struct {
	Check   string `json:"check"`
	File    string `json:"file,omitempty"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

func (r Reason) String() string {
	s := r.Check + ": "
	if r.File != "" {
		s += r.File + ": "
	}
	s += r.Message
	if r.Code != "" && !strings.Contains(r.Message, "("+r.Code+")") {
		s += " (" + r.Code + ")"
	}
	return s
}

// Signer identifies the key of a verified signature.
type Signer struct {
	KeyID       string `json:"key_id"`
	Fingerprint string `json:"fingerprint"`
}

// Submission is the record of one candidate: what POST /api/v1/publish and
// GET /api/v1/publish/{id} answer, and what the store keeps in the
// internal bucket under pkgstore/submissions/<id>.json.
type Submission struct {
	ID        string     `json:"id"`
	Package   string     `json:"package"` // the zip's file name, NAME-VERSION.zip
	Name      string     `json:"name,omitempty"`
	Version   string     `json:"version,omitempty"`
	Status    Status     `json:"status"`
	Legacy    bool       `json:"legacy"`
	DryRun    bool       `json:"dry_run"`
	Signed    bool       `json:"signed"`
	Reasons   []Reason   `json:"reasons,omitempty"`
	Size      int64      `json:"size,omitempty"`
	SHA256    string     `json:"sha256,omitempty"`
	Signer    *Signer    `json:"signer,omitempty"`
	Submitted time.Time  `json:"submitted"`
	Started   *time.Time `json:"started,omitempty"`
	Finished  *time.Time `json:"finished,omitempty"`
	Attempts  int        `json:"attempts,omitempty"`
	// Token is the name of the token that submitted it, Client the
	// address it came from.
	Token  string `json:"token,omitempty"`
	Client string `json:"client,omitempty"`
}

// Duplicate reports whether s was refused only because its NAME-VERSION
// is already published (every reason is a CheckDuplicate): for a
// publisher of revisions that exist elsewhere, that is success.
func (s *Submission) Duplicate() bool {
	if s.Status != StatusRejected || len(s.Reasons) == 0 {
		return false
	}
	for _, r := range s.Reasons {
		if r.Check != CheckDuplicate {
			return false
		}
	}
	return true
}

// ErrorBody is the JSON of every error answer of pkgstore's own APIs.
type ErrorBody struct {
	Error string `json:"error"`
}
