package translog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"pkgstore/internal/pkg/packageid"
)

// Events a record says happened.
const (
	EventPublish = "publish"
	EventYank    = "yank"
	EventUnyank  = "unyank"
)

// MaxRecordSize bounds a record's text: ours are a few hundred bytes, and
// every reader of the log (the server, verify, the monitor) reads records
// with this limit.
const MaxRecordSize = 2048

// ErrMalformed is matched by the error of ParseEntry.
var ErrMalformed = errors.New("malformed log record")

// Entry is one record of the log: what happened to which revision, with
// the bytes it concerns (the zip's SHA-256 and size, and the fingerprint of
// the OpenPGP key that signed it; yanks repeat the publication's).
type Entry struct {
	Event   string
	Name    string
	Version string
	SHA256  string // hex, lower case
	Size    int64
	Signer  string // OpenPGP fingerprint, "" when published unsigned
	// Generation numbers the yanks and unyanks of a revision (govern/yank);
	// 0 for a publication.
	Generation int
	Time       time.Time
}

// ID is the revision the entry is about.
func (e Entry) ID() packageid.ID { return packageid.ID{Name: e.Name, Version: e.Version} }

// Key names the event the entry records, once in the log: a revision is
// published once, and each generation of its yank state is one event.
func (e Entry) Key() string {
	if e.Event == EventPublish {
		return EventPublish + "/" + e.ID().String()
	}
	return "yank/" + e.ID().String() + "@" + strconv.Itoa(e.Generation)
}

// Text is the record text hashed into the log: `key value` lines in a
// fixed order, each value free of spaces and control characters.
func (e Entry) Text() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	signer := e.Signer
	if signer == "" {
		signer = "-"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "event %s\nname %s\nversion %s\nsha256 %s\nsize %d\nsigner %s\n", e.Event, e.Name, e.Version, e.SHA256, e.Size, signer)
	if e.Event != EventPublish {
		fmt.Fprintf(&b, "generation %d\n", e.Generation)
	}
	fmt.Fprintf(&b, "time %s\n", e.Time.UTC().Format(time.RFC3339Nano))
	return b.Bytes(), nil
}

func (e Entry) check() error {
	switch e.Event {
	case EventPublish:
		if e.Generation != 0 {
			return fmt.Errorf("%w: a publication has no generation", ErrMalformed)
		}
	case EventYank, EventUnyank:
		if e.Generation <= 0 {
			return fmt.Errorf("%w: a %s needs a generation", ErrMalformed, e.Event)
		}
	default:
		return fmt.Errorf("%w: unknown event %q", ErrMalformed, e.Event)
	}
	if err := e.ID().Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(e.SHA256) != 64 || strings.Trim(e.SHA256, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: sha256 %q is not 64 lower-case hex digits", ErrMalformed, e.SHA256)
	}
	if e.Size < 0 {
		return fmt.Errorf("%w: negative size", ErrMalformed)
	}
	if e.Signer != "" && (len(e.Signer) > 128 || strings.Trim(e.Signer, "0123456789abcdefABCDEF") != "") {
		return fmt.Errorf("%w: signer %q is not a hex fingerprint", ErrMalformed, e.Signer)
	}
	if e.Time.IsZero() {
		return fmt.Errorf("%w: no time", ErrMalformed)
	}
	return nil
}

// ParseEntry parses a record text written by Entry.Text, strictly: the
// same lines in the same order, so that one entry has one text.
func ParseEntry(text []byte) (Entry, error) {
	if len(text) > MaxRecordSize {
		return Entry{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(text))
	}
	var e Entry
	sc := bufio.NewScanner(bytes.NewReader(text))
	want := []string{"event", "name", "version", "sha256", "size", "signer", "generation", "time"}
	for _, k := range want {
		if k == "generation" && e.Event == EventPublish {
			continue
		}
		if !sc.Scan() {
			return Entry{}, fmt.Errorf("%w: missing %s", ErrMalformed, k)
		}
		key, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || key != k || val == "" {
			return Entry{}, fmt.Errorf("%w: want a %s line, got %q", ErrMalformed, k, sc.Text())
		}
		var err error
		switch k {
		case "event":
			e.Event = val
		case "name":
			e.Name = val
		case "version":
			e.Version = val
		case "sha256":
			e.SHA256 = val
		case "size":
			e.Size, err = strconv.ParseInt(val, 10, 64)
		case "signer":
			if val != "-" {
				e.Signer = val
			}
		case "generation":
			e.Generation, err = strconv.Atoi(val)
		case "time":
			e.Time, err = time.Parse(time.RFC3339Nano, val)
		}
		if err != nil {
			return Entry{}, fmt.Errorf("%w: %s: %w", ErrMalformed, k, err)
		}
	}
	if sc.Scan() {
		return Entry{}, fmt.Errorf("%w: unexpected line %q", ErrMalformed, sc.Text())
	}
	again, err := e.Text()
	if err != nil {
		return Entry{}, err
	}
	if !bytes.Equal(again, text) {
		return Entry{}, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return e, nil
}

// PublishKey is the event key of id's publication.
func PublishKey(id packageid.ID) string {
	return Entry{Event: EventPublish, Name: id.Name, Version: id.Version}.Key()
}
