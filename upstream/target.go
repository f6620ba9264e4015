package upstream

import (
	"io"
	"net/url"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Target is one backend of a pool and its health. Its zero health state is
// "healthy": a target takes traffic until an active check fails or a
// connection to it does.
type Target struct {
	pool      *pool
	url       *url.URL
	name      string // the URL as configured, for logs and metric labels
	basePath  string // the URL's path without a trailing "/", prefixed to every request path
	healthURL string // "" without active checks

	inFlight atomic.Int64 // requests picked and not yet finished; least_conn reads it
	// down is the active check's verdict, and is also set by a passive
	// ejection when active checks run, so that the target only returns
	// once a check has seen it answer again.
	down atomic.Bool
	// ejectedUntil (Unix ns; 0 = not ejected) keeps the target out after a
	// connection failure for the pool's cool-down.
	ejectedUntil atomic.Int64
	// epoch counts ejections, so that an active check that started before
	// an ejection cannot undo it with a stale "healthy".
	epoch atomic.Uint64

	ejections prometheus.Counter // nil without metrics
}

// Healthy reports whether the target may take traffic now.
func (t *Target) Healthy() bool {
	if t.down.Load() {
		return false
	}
	until := t.ejectedUntil.Load()
	if until == 0 {
		return true // the common case reads no clock
	}
	if t.pool.now().UnixNano() < until {
		return false
	}
	t.ejectedUntil.CompareAndSwap(until, 0)
	return true
}

// InFlight reports how many requests to the target have not finished. It
// is only counted in pools whose balancer reads it (least_conn); elsewhere
// it stays 0.
func (t *Target) InFlight() int64 { return t.inFlight.Load() }

// String returns the target's URL as configured.
func (t *Target) String() string { return t.name }

// trackBody makes the in-flight count drop when the response body is
// closed, which ReverseProxy does once the body is copied (or the upgraded
// connection ends). A 101 response's body is the raw connection and must
// stay writable for ReverseProxy to switch protocols.
func (t *Target) trackBody(body io.ReadCloser) io.ReadCloser {
	if rwc, ok := body.(io.ReadWriteCloser); ok {
		return &trackedConn{trackedBody: trackedBody{ReadCloser: rwc, t: t}, w: rwc}
	}
	return &trackedBody{ReadCloser: body, t: t}
}

type trackedBody struct {
	io.ReadCloser
	t    *Target
	done atomic.Bool
}

func (b *trackedBody) Close() error {
	if b.done.CompareAndSwap(false, true) {
		b.t.inFlight.Add(-1)
	}
	return b.ReadCloser.Close()
}

type trackedConn struct {
	trackedBody
	w io.Writer
}

func (c *trackedConn) Write(p []byte) (int, error) { return c.w.Write(p) }
