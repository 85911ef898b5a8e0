package client

import (
	"context"
	"fmt"
	"io"
	"strings"

	"pkgstore/internal/api"
)

// Publisher publishes a candidate and waits for its outcome: a Client
// over HTTP, or a store's own publishing job in the same process (the
// pull-through cache).
type Publisher interface {
	Publish(ctx context.Context, zipName string, zip io.Reader, sig []byte, opts Options) (*api.Submission, error)
}

// RefusedError is a legacy publication the store refused for a reason
// other than a duplicate.
type RefusedError struct {
	Submission *api.Submission
}

func (e *RefusedError) Error() string {
	reasons := make([]string, 0, len(e.Submission.Reasons))
	for _, r := range e.Submission.Reasons {
		reasons = append(reasons, r.String())
	}
	if len(reasons) == 0 {
		return "refused without a reason"
	}
	return "refused: " + strings.Join(reasons, "; ")
}

// PublishLegacy publishes a revision that is already published elsewhere
// (a v1 checkout, an upstream registry): as legacy, so package-spec is not
// checked again (signature and zip are), and waits for the outcome. A
// refusal because the store has NAME-VERSION already is success: present
// is true and err nil. Otherwise err is nil when the submission ended
// published, or passed for opts.DryRun; a *RefusedError (carrying the
// submission) when it was refused; the error of p.Publish as it came
// (transport, API answers, ctx); or an error naming the status the
// submission was left in.
func PublishLegacy(ctx context.Context, p Publisher, zipName string, zip io.Reader, sig []byte, opts Options) (sub *api.Submission, present bool, err error) {
	opts.Legacy = true
	sub, err = p.Publish(ctx, zipName, zip, sig, opts)
	if err != nil {
		return sub, false, err
	}
	switch sub.Status {
	case api.StatusPublished, api.StatusPassed:
		return sub, false, nil
	case api.StatusRejected:
		if sub.Duplicate() {
			return sub, true, nil
		}
		return sub, false, &RefusedError{Submission: sub}
	}
	return sub, false, fmt.Errorf("submission %s ended as %q", sub.ID, sub.Status)
}
