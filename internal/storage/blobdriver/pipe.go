package blobdriver

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"gocloud.dev/blob"
)

// pipeWriter streams an object into gocloud's Bucket.Upload through a pipe
// it owns, instead of through *blob.Writer's own streaming path.
//
// Azure needs it: in gocloud.dev v0.47, azureblob's streaming writer clears
// its pipe from the upload goroutine when an upload fails (a lost
// create-if-absent, a cancelled context, a server error) while Close reads
// the same field afterwards, so Close races with that goroutine and panics
// on a nil *io.PipeReader. Its Upload path takes the reader whole and has
// no such pipe.
//
// A pipeWriter is driven like a *blob.Writer: Write, then Close to save;
// cancel ctx before Close to discard. Close always waits for the upload
// goroutine, which it owns.
type pipeWriter struct {
	ctx  context.Context
	pw   *io.PipeWriter
	done chan struct{}
	err  error // Upload's result; written before done closes
}

// newPipeWriter starts uploading key from the pipe. With no ContentType in
// o, the type is sniffed from the first 512 bytes, as *blob.Writer does.
func newPipeWriter(ctx context.Context, b *blob.Bucket, key string, o *blob.WriterOptions) *pipeWriter {
	pr, pw := io.Pipe()
	w := &pipeWriter{ctx: ctx, pw: pw, done: make(chan struct{})}
	opts := *o
	go func() {
		defer close(w.done)
		err := upload(ctx, b, key, pr, &opts)
		// Writes after an upload that stopped early fail with its error
		// instead of blocking on a pipe nobody reads.
		pr.CloseWithError(err)
		w.err = err
	}()
	return w
}

func upload(ctx context.Context, b *blob.Bucket, key string, r io.Reader, o *blob.WriterOptions) error {
	if o.ContentType == "" {
		head := make([]byte, 512)
		n, err := io.ReadFull(r, head)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return err
		}
		o.ContentType = http.DetectContentType(head[:n])
		r = io.MultiReader(bytes.NewReader(head[:n]), r)
	}
	return b.Upload(ctx, key, r, o)
}

func (w *pipeWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

// Close ends the object and waits for the upload: it is saved unless ctx
// was cancelled, in which case the upload reads an error, not EOF, and
// saves nothing.
func (w *pipeWriter) Close() error {
	if err := w.ctx.Err(); err != nil {
		w.pw.CloseWithError(err)
	} else {
		w.pw.Close()
	}
	<-w.done
	return w.err
}
