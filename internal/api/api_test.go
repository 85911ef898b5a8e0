package api

import (
	"encoding/json"
	"testing"
	"time"
)

// TestSubmissionJSON pins the wire shape: names, order, omitempty.
func TestSubmissionJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := Submission{ID: "1", Package: "a-1.0.0.zip", Status: StatusRejected, Reasons: []Reason{{Check: CheckDuplicate, Message: "m"}}, Submitted: at}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"1","package":"a-1.0.0.zip","status":"rejected","legacy":false,"dry_run":false,"signed":false,"reasons":[{"check":"duplicate","message":"m"}],"submitted":"2026-12-01T10:00:00Z"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDuplicate(t *testing.T) {
	dup := Reason{Check: CheckDuplicate, Message: "taken"}
	other := Reason{Check: CheckSignature, Message: "bad"}
	for _, tc := range []struct {
		name string
		s    Submission
		want bool
	}{
		{"duplicate", Submission{Status: StatusRejected, Reasons: []Reason{dup}}, true},
		{"other reason", Submission{Status: StatusRejected, Reasons: []Reason{other}}, false},
		{"mixed", Submission{Status: StatusRejected, Reasons: []Reason{dup, other}}, false},
		{"no reason", Submission{Status: StatusRejected}, false},
		{"published", Submission{Status: StatusPublished, Reasons: []Reason{dup}}, false},
	} {
		if got := tc.s.Duplicate(); got != tc.want {
			t.Errorf("%s: Duplicate() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestChecksDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks {
		if c == "" || seen[c] {
			t.Errorf("check name %q empty or listed twice", c)
		}
		seen[c] = true
	}
}
