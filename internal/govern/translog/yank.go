package translog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/pkg/packageid"
)

// AppendChange appends a yank or unyank (one generation of the revision's
// yank state) to the log, with the bytes of the publication it concerns:
// those the log recorded, else the provenance record (a revision
// published before the log was kept).
func (l *Log) AppendChange(ctx context.Context, st api.YankState) error {
	id := packageid.ID{Name: st.Name, Version: st.Version}
	pub, err := l.Event(ctx, PublishKey(id))
	if errors.Is(err, ErrNotFound) {
		rev, rerr := provenance.Read(ctx, l.b, id)
		if rerr != nil {
			return fmt.Errorf("log the yank state of %s: neither a log record nor a provenance record of its publication: %w", id, rerr)
		}
		pub = Entry{SHA256: rev.SHA256, Size: rev.Size}
		if rev.Signer != nil {
			pub.Signer = strings.ToLower(rev.Signer.Fingerprint)
		}
	} else if err != nil {
		return err
	}
	e := Entry{Event: EventUnyank, Name: id.Name, Version: id.Version, SHA256: pub.SHA256, Size: pub.Size, Signer: pub.Signer, Generation: st.Generation, Time: st.Time}
	if st.Yanked {
		e.Event = EventYank
	}
	if _, _, err := l.Append(ctx, e); err != nil {
		return fmt.Errorf("log the yank state of %s: %w", id, err)
	}
	return nil
}
