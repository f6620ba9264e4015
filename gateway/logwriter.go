package gateway

import (
	"context"
	"io"
	"sync"
)

// lineWriter is where the log lines of NewLogger's logger go, slog's and
// the access log's alike. Each Write is one whole line, and lines never
// interleave whatever the underlying writer is.
//
// While a server runs, lines are handed to a flusher goroutine (run)
// instead of being written by the request that logged them: a line costs
// an append to a buffer, and under load the flusher writes all the lines
// that arrived during its previous write with one write(2) — where one
// system call per request was the access log's largest cost, a whole
// extra syscall beside the four a proxied request needs. The flusher is
// woken by the first line after each write, so a line waits for no
// timer: only for the write in progress. Before and after run, and
// whenever maxPending bytes are waiting (a writer slower than the lines
// come), Write writes itself, in order, so memory stays bounded and a
// slow log slows requests down as it did when every line was written
// directly. What a crash can lose is the lines logged during the write in
// progress, microseconds' worth; Server.Run writes the rest before it
// returns.
type lineWriter struct {
	w io.Writer

	writeMu sync.Mutex // held around every w.Write, so batches keep their order

	mu       sync.Mutex
	pending  []byte // lines not yet written
	spare    []byte // the previous batch's buffer, reused
	flushers int    // running flushers; 0: Write writes itself
	wake     chan struct{}
}

// maxPending bounds the lines waiting for the flusher.
const maxPending = 1 << 20

func newLineWriter(w io.Writer) *lineWriter {
	return &lineWriter{w: w, wake: make(chan struct{}, 1)}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.flushers == 0 || len(l.pending)+len(p) > maxPending {
		l.mu.Unlock()
		l.writeMu.Lock()
		defer l.writeMu.Unlock()
		l.flushLocked() // lines queued before this one go first
		return l.w.Write(p)
	}
	first := len(l.pending) == 0
	l.pending = append(l.pending, p...)
	l.mu.Unlock()
	if first {
		select {
		case l.wake <- struct{}{}:
		default: // a wake-up is already due
		}
	}
	return len(p), nil
}

// flushLocked writes the pending lines. The caller holds writeMu.
func (l *lineWriter) flushLocked() {
	l.mu.Lock()
	batch := l.pending
	if len(batch) == 0 {
		l.mu.Unlock()
		return
	}
	l.pending, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	// A failed log write is not the request's problem, as with slog.
	_, _ = l.w.Write(batch)
	if cap(batch) > maxPending {
		batch = nil // do not keep a buffer a burst grew
	}
	l.mu.Lock()
	l.spare = batch[:0]
	l.mu.Unlock()
}

// run writes the lines handed to it until ctx ends, then writes what is
// left; from then on (once every run has returned) Write writes itself
// again.
func (l *lineWriter) run(ctx context.Context) {
	l.mu.Lock()
	l.flushers++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.flushers--
		l.mu.Unlock()
		l.writeMu.Lock()
		l.flushLocked()
		l.writeMu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
			l.writeMu.Lock()
			l.flushLocked()
			l.writeMu.Unlock()
		}
	}
}
