package exitcode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"

	"pkgstore/internal/client"
	"pkgstore/internal/storage"
)

func TestOf(t *testing.T) {
	_, dial := net.Dial("tcp", "127.0.0.1:1") // a real refused connection
	if dial == nil {
		t.Skip("something listens on port 1")
	}
	_, open := storage.Open(context.Background(), storage.Config{DataDir: t.TempDir() + "/missing", MustExist: true})
	_, file := os.Open(t.TempDir() + "/missing.zip")
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"401", &client.APIError{StatusCode: 401}, Auth},
		{"403 wrapped", fmt.Errorf("yank: %w", &client.APIError{StatusCode: 403}), Auth},
		{"403 of a GET", &client.StatusError{StatusCode: 403}, Auth},
		{"404", &client.APIError{StatusCode: 404}, Refused},
		{"400", &client.APIError{StatusCode: 400}, Refused},
		{"413", &client.APIError{StatusCode: 413}, Refused},
		{"429 after retries", &client.APIError{StatusCode: 429}, Unreachable},
		{"503", &client.APIError{StatusCode: 503}, Unreachable},
		{"502 of a GET", &client.StatusError{StatusCode: 502}, Unreachable},
		{"connection refused", fmt.Errorf("upload: %w", dial), Unreachable},
		{"no outcome in time", fmt.Errorf("wait: %w", context.DeadlineExceeded), Unreachable},
		{"bucket cannot be opened", open, Unreachable},
		{"marked", Unreach(errors.New("x")), Unreachable},
		{"a local file missing", fmt.Errorf("bundle: %w", file), Refused},
		{"plain", errors.New("refused"), Refused},
	} {
		if got := Of(tt.err); got != tt.want {
			t.Errorf("%s: Of(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestWorst(t *testing.T) {
	for _, tt := range []struct {
		codes []int
		want  int
	}{
		{nil, OK},
		{[]int{OK, AlreadyPublished}, AlreadyPublished},
		{[]int{AlreadyPublished, Refused, OK}, Refused},
		{[]int{Refused, Usage}, Usage},
		{[]int{Usage, Auth, Refused}, Auth},
		{[]int{Auth, Unreachable, AlreadyPublished}, Unreachable},
	} {
		if got := Worst(tt.codes...); got != tt.want {
			t.Errorf("Worst(%v) = %d, want %d", tt.codes, got, tt.want)
		}
	}
}
