package packageid

import (
	"errors"
	"testing"
)

func TestParseZipName(t *testing.T) {
	tests := []struct {
		in      string
		want    ID
		wantErr error
	}{
		{"nginx-1.2.3.zip", ID{"nginx", "1.2.3"}, nil},
		{"path/to/foo_bar-1.0.0-rc1.zip", ID{"foo_bar", "1.0.0-rc1"}, nil},
		{"foo-1.0.0-beta.1+build5.zip", ID{"foo", "1.0.0-beta.1+build5"}, nil},
		{"Foo-1.0.0.zip", ID{}, ErrBadName},
		{"foo-bar-1.0.0.zip", ID{}, ErrBadVersion},
		{"foo-1.0.zip", ID{}, ErrBadVersion},
		{"foo-01.0.0.zip", ID{}, ErrBadVersion},
		{"foo-v1.0.0.zip", ID{}, ErrBadVersion},
		{"foo.zip", ID{}, ErrBadFileName},
		{"foo-1.0.0.tar.gz", ID{}, ErrBadFileName},
	}
	for _, tt := range tests {
		got, err := ParseZipName(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseZipName(%q) err = %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseZipName(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	if Compare("1.10.0", "1.9.0") <= 0 {
		t.Error("1.10.0 should sort after 1.9.0")
	}
	if Compare("1.0.0-rc1", "1.0.0") >= 0 {
		t.Error("prerelease should sort before release")
	}
	if Compare("2.0.0", "2.0.0") != 0 {
		t.Error("equal versions")
	}
}
