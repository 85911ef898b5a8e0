// Package rawfile opens, reads and writes files through bare descriptors
// where the platform allows it (Linux), for the places that handle a
// package's many small files one after the other: building a zip reads
// each of them, publishing writes each of them out as a static file.
//
// An *os.File costs five system calls on Linux beyond open(2) and close(2):
// package os offers every opened file to the runtime's network poller (an
// epoll_ctl that regular files refuse, wrapped in four fcntl calls that
// set and restore non-blocking mode), then tracks it with a finalizer. On
// a virtual machine, where each system call is dear, that overhead is a
// sizeable part of the cost of a file of a few kilobytes. Elsewhere the
// functions here are thin wrappers of package os.
//
// A File is not safe for use by several goroutines at once, and is not
// closed by the garbage collector: every Open and Create must be paired
// with Close.
package rawfile

import (
	"errors"
	"io"
)

// Copy copies src to dst in writes of len(buf) bytes, the last one
// shorter: buf is filled before each write, so a file written from a
// reader that returns small pieces, such as an inflater, costs one
// write(2) per len(buf) bytes rather than one per piece.
func Copy(dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	if len(buf) == 0 {
		return 0, errors.New("rawfile: empty copy buffer")
	}
	var written int64
	for {
		// Not io.ReadFull: it reports a short last piece as
		// io.ErrUnexpectedEOF, which a source may return of its own (a
		// truncated zip entry) and which must not pass for the end.
		n := 0
		var rerr error
		for n < len(buf) && rerr == nil {
			var m int
			m, rerr = src.Read(buf[n:])
			n += m
		}
		if n > 0 {
			w, err := dst.Write(buf[:n])
			written += int64(w)
			if err != nil {
				return written, err
			}
			if w != n {
				return written, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}
