package syncv1

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
)

func TestWriteSummary(t *testing.T) {
	results := []Result{
		{Dir: "packages/a/1.0.0", ID: packageid.ID{Name: "a", Version: "1.0.0"}, Outcome: Published, Bytes: 2 << 20, ZipSize: 1 << 20, Elapsed: 12 * time.Millisecond},
		{Dir: "packages/b/1.0.0", ID: packageid.ID{Name: "b", Version: "1.0.0"}, Outcome: Present},
		{Dir: "packages/c/1.0.0", ID: packageid.ID{Name: "c", Version: "1.0.0"}, Outcome: Failed, Reasons: []string{"broken revision: no manifest"}},
	}
	sum := &Summary{Total: 3, Published: 1, Present: 1, Failed: results[2:], Bytes: 2 << 20, Elapsed: time.Second}

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
