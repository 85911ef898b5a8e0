package buildmanifest

import (
	"strings"
	"testing"

	"pkgstore/internal/testkit/treetest"
)

func TestRead(t *testing.T) {
	cases := []struct {
		name    string
		file    *string
		found   bool
		ref     string
		imports bool
		wantErr string
	}{
		{name: "absent", file: nil},
		{name: "ECS reference", file: ptr("dependencies:\n  ecs:\n    reference: git@v8.11.0\n    import_mappings: true\n"), found: true, ref: "v8.11.0", imports: true},
		{name: "no dependencies", file: ptr("# nothing\n"), found: true},
		{name: "without git@", file: ptr("dependencies:\n  ecs:\n    reference: v8.11.0\n"), found: true, wantErr: "git@REF"},
		{name: "only the prefix", file: ptr("dependencies:\n  ecs:\n    reference: git@\n"), found: true, wantErr: "git@REF"},
		{name: "not YAML", file: ptr("dependencies: [\n"), wantErr: "parse _dev/build/build.yml"},
		{name: "too large", file: ptr("# " + strings.Repeat("x", maxSize) + "\n"), wantErr: "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != nil {
				treetest.Write(t, dir, map[string]string{Path: *tc.file})
			}
			m, found, err := Read(dir)
			if err == nil && found {
				var ref string
				ref, err = m.ECSRef()
				if err == nil && (ref != tc.ref || m.ImportMappings() != tc.imports) {
					t.Errorf("ref %q imports %v, want %q %v", ref, m.ImportMappings(), tc.ref, tc.imports)
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found {
				t.Errorf("found = %v, want %v", found, tc.found)
			}
		})
	}
}

func ptr(s string) *string { return &s }
