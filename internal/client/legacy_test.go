package client

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"pkgstore/internal/api"
)

// fakePublisher answers every publication with sub (or err) and records
// the options it was given.
type fakePublisher struct {
	sub  *api.Submission
	err  error
	opts Options
}

func (f *fakePublisher) Publish(_ context.Context, _ string, _ io.Reader, _ []byte, opts Options) (*api.Submission, error) {
	f.opts = opts
	return f.sub, f.err
}

func TestPublishLegacy(t *testing.T) {
	dup := api.Reason{Check: api.CheckDuplicate, File: "a-1.0.0.zip", Message: "a-1.0.0 is already published"}
	sig := api.Reason{Check: api.CheckSignature, File: "a-1.0.0.zip.sig", Message: "unknown key"}
	netErr := errors.New("connection refused")
	tests := []struct {
		name        string
		sub         *api.Submission
		err         error
		present     bool
		wantErr     string // substring; "" for nil
		wantRefused bool
	}{
		{"published", &api.Submission{ID: "1", Status: api.StatusPublished}, nil, false, "", false},
		{"dry run passed", &api.Submission{ID: "1", Status: api.StatusPassed}, nil, false, "", false},
		{"duplicate is success", &api.Submission{ID: "1", Status: api.StatusRejected, Reasons: []api.Reason{dup}}, nil, true, "", false},
		{"refused", &api.Submission{ID: "1", Status: api.StatusRejected, Reasons: []api.Reason{sig}}, nil, false, "refused: signature: a-1.0.0.zip.sig: unknown key", true},
		{"refused without a reason", &api.Submission{ID: "1", Status: api.StatusRejected}, nil, false, "refused without a reason", true},
		{"not final", &api.Submission{ID: "1", Status: api.StatusProcessing}, nil, false, `submission 1 ended as "processing"`, false},
		{"transport error", nil, netErr, false, "connection refused", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakePublisher{sub: tc.sub, err: tc.err}
			sub, present, err := PublishLegacy(context.Background(), p, "a-1.0.0.zip", strings.NewReader("zip"), nil, Options{DryRun: true})
			if !p.opts.Legacy || !p.opts.DryRun {
				t.Errorf("published with %+v, want Legacy and the caller's DryRun", p.opts)
			}
			if sub != tc.sub || present != tc.present {
				t.Errorf("sub %v present %v, want %v %v", sub, present, tc.sub, tc.present)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
			var refused *RefusedError
			if errors.As(err, &refused) != tc.wantRefused {
				t.Errorf("error %v: RefusedError %v, want %v", err, !tc.wantRefused, tc.wantRefused)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("error %v does not wrap the publisher's %v", err, tc.err)
			}
		})
	}
}
