package upstream

import (
	"net/http"
	"sync"
)

// streamWriter hands every chunk of a response body to the client as soon
// as the upstream sent it, so that a stream of known length (a long
// download, a progress feed) is not held back in the server's buffer.
//
// ReverseProxy already flushes Server-Sent Events and responses of unknown
// length immediately, whatever FlushInterval says. For the others its
// FlushInterval -1 would do the same, but arms a timer and starts a
// goroutine for every response to do it; this writer flushes after each
// write with neither, and without allocating (it is pooled). The one thing
// it does not do is send the headers of a response whose body has not
// started: they go with the first bytes of the body.
type streamWriter struct {
	w http.ResponseWriter
	f http.Flusher // nil: w cannot flush
}

var streamWriters = sync.Pool{New: func() any { return new(streamWriter) }}

func getStreamWriter(w http.ResponseWriter) *streamWriter {
	sw := streamWriters.Get().(*streamWriter)
	sw.w = w
	sw.f, _ = w.(http.Flusher)
	return sw
}

// release returns sw to the pool; ReverseProxy is done with it once its
// ServeHTTP has returned (an upgraded connection is copied on the hijacked
// conn, not through sw).
func (sw *streamWriter) release() {
	*sw = streamWriter{}
	streamWriters.Put(sw)
}

func (sw *streamWriter) Header() http.Header { return sw.w.Header() }

func (sw *streamWriter) WriteHeader(code int) { sw.w.WriteHeader(code) }

func (sw *streamWriter) Write(p []byte) (int, error) {
	n, err := sw.w.Write(p)
	if err == nil && sw.f != nil {
		sw.f.Flush()
	}
	return n, err
}

// Flush is for ReverseProxy's own flushes (streams, trailers).
func (sw *streamWriter) Flush() {
	if sw.f != nil {
		sw.f.Flush()
		return
	}
	http.NewResponseController(sw.w).Flush()
}

// Unwrap lets http.ResponseController reach the connection (hijacking for
// WebSocket upgrades, deadlines).
func (sw *streamWriter) Unwrap() http.ResponseWriter { return sw.w }
