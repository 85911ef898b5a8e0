package publishapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// uploadBody is a publish request's body. Before the upload is admitted
// (the package is named and the token may publish it) it lets at most
// limit bytes through. Once admitted it enforces the minimum rate with the
// connection's read deadline: the client starts with a window's worth of
// bytes as credit, each second spent waiting in Read costs minRate bytes
// of it, each byte received earns one back (up to the window's worth), and
// a Read is given only as long as the credit lasts. Time the server spends
// elsewhere (writing to the queue's bucket) costs the client nothing.
type uploadBody struct {
	r     io.ReadCloser
	limit int64 // bytes left before admission
	rc    *http.ResponseController
	// After admission:
	end       time.Time // the upload's own deadline (--upload-timeout)
	rate      float64   // bytes a second; 0: not enforced
	window    time.Duration
	credit    float64 // bytes
	maxCredit float64
	received  int64
	open      bool
}

// admitted switches the body to the admitted upload's rules.
func (u *uploadBody) admitted(rc *http.ResponseController, end time.Time, minRate int64, window time.Duration) {
	u.rc, u.end, u.open, u.window = rc, end, true, window
	if minRate > 0 && window > 0 {
		u.rate = float64(minRate)
		u.maxCredit = u.rate * window.Seconds()
		u.credit = u.maxCredit
	}
}

// Close closes the request body.
func (u *uploadBody) Close() error { return u.r.Close() }

// finished gives the connection back the upload's own deadline once the
// body has been read: the server's read of the next request must not
// trip over a rate deadline while the submission is being queued.
func (u *uploadBody) finished() {
	if u.open && u.rate > 0 {
		_ = u.rc.SetReadDeadline(u.end)
	}
}

func (u *uploadBody) Read(p []byte) (int, error) {
	if !u.open {
		if u.limit <= 0 {
			return 0, errPreamble
		}
		if int64(len(p)) > u.limit {
			p = p[:u.limit]
		}
		n, err := u.r.Read(p)
		u.limit -= int64(n)
		return n, err
	}
	if u.rate == 0 || len(p) == 0 {
		return u.r.Read(p)
	}
	start := time.Now()
	deadline := start.Add(time.Duration(u.credit / u.rate * float64(time.Second)))
	ours := deadline.Before(u.end)
	if !ours {
		deadline = u.end
	}
	// A failure to set it leaves the upload's own deadline in place.
	_ = u.rc.SetReadDeadline(deadline)
	n, err := u.r.Read(p)
	u.received += int64(n)
	u.credit = min(u.credit-u.rate*time.Since(start).Seconds()+float64(n), u.maxCredit)
	if err != nil && ours && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, fmt.Errorf("%w: the server received %d bytes since the upload was admitted, less than %.0f bytes a second over %v (the minimum rate, --upload-min-rate)", ErrTooSlow, u.received, u.rate, u.window)
	}
	return n, err
}
