package syncv1

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/packageid"
)

func TestReporters(t *testing.T) {
	results := []Result{
		{Dir: "packages/a/1.0.0", ID: packageid.ID{Name: "a", Version: "1.0.0"}, Outcome: Published, Bytes: 2 << 20, ZipSize: 1 << 20, Elapsed: 12 * time.Millisecond},
		{Dir: "packages/b/1.0.0", ID: packageid.ID{Name: "b", Version: "1.0.0"}, Outcome: Present},
		{Dir: "packages/c/1.0.0", ID: packageid.ID{Name: "c", Version: "1.0.0"}, Outcome: Failed, Reasons: []string{"broken revision: no manifest"}},
	}
	sum := &Summary{Total: 3, Published: 1, Present: 1, Failed: results[2:], Bytes: 2 << 20, Elapsed: time.Second}

	tests := []struct {
		name string
		rep  func(w *bytes.Buffer) Reporter
		want []string
	}{
		{"lines", func(w *bytes.Buffer) Reporter { return &LineReporter{W: w} }, []string{
			"sync-v1: 3 revisions\n",
			"[1/3] published a-1.0.0 (2.0 MiB, zip 1.0 MiB, 12ms)\n",
			"[2/3] present   b-1.0.0\n",
			"[3/3] FAILED    packages/c/1.0.0: broken revision: no manifest\n",
		}},
		{"bar", func(w *bytes.Buffer) Reporter { return &BarReporter{W: w} }, []string{
			"FAILED    packages/c/1.0.0: broken revision: no manifest",
			"published 1, present 1, failed 1",
			"3/3",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := tc.rep(&buf)
			r.Start(len(results))
			for _, res := range results {
				r.Done(res)
			}
			r.Finish(sum)
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}

	var buf bytes.Buffer
	sum.WriteSummary(&buf, false)
	for _, w := range []string{"3.0 revisions/s", "2.1 MB/s", "published:       1", "already present: 1", "failed:          1", "    packages/c/1.0.0:\n      - broken revision: no manifest\n"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, buf.String())
		}
	}
	if strings.Contains(buf.String(), "not done") {
		t.Errorf("summary mentions 'not done' for a complete run:\n%s", buf.String())
	}
}
