package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
)

func TestReporters(t *testing.T) {
	results := []Result{
		{Dir: "packages/a/1.0.0", ID: packageid.ID{Name: "a", Version: "1.0.0"}, Outcome: Published, Bytes: 2 << 20, ZipSize: 1 << 20, Elapsed: 12 * time.Millisecond},
		{Dir: "packages/b/1.0.0", ID: packageid.ID{Name: "b", Version: "1.0.0"}, Outcome: Present},
		{Dir: "packages/c/1.0.0", ID: packageid.ID{Name: "c", Version: "1.0.0"}, Outcome: Failed, Reasons: []string{"broken revision: no manifest"}},
	}
	tests := []struct {
		name string
		rep  func(w *bytes.Buffer) Reporter
		want []string
	}{
		{"lines", func(w *bytes.Buffer) Reporter { return &LineReporter{W: w, Name: "sync-v1"} }, []string{
			"sync-v1: 3 revisions\n",
			"[1/3] published a-1.0.0 (2.0 MiB, zip 1.0 MiB, 12ms)\n",
			"[2/3] present   b-1.0.0\n",
			"[3/3] FAILED    packages/c/1.0.0: broken revision: no manifest\n",
		}},
		{"bar", func(w *bytes.Buffer) Reporter { return &BarReporter{W: w, Name: "sync-v1"} }, []string{
			"FAILED    packages/c/1.0.0: broken revision: no manifest",
			"published 1, present 1, failed 1",
			"3/3",
		}},
		{"default name", func(w *bytes.Buffer) Reporter { return &LineReporter{W: w} }, []string{"progress: 3 revisions\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := tc.rep(&buf)
			r.Start(len(results))
			for _, res := range results {
				r.Done(res)
			}
			r.Finish()
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}

}
