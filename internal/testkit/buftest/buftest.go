// Package buftest holds Buffer, a bytes.Buffer that concurrent writers may
// share: for collecting a store's log or a process's output in tests.
package buftest

import (
	"bytes"
	"sync"
)

// Buffer collects what is written to it, safe for concurrent use. The
// zero value is ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
