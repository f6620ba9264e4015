package park

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Listener is a net.Listener for an http.Server that parks the server's
// idle HTTP/1.1 connections (see the package documentation). The server
// must use its ConnState as http.Server.ConnState, and Serve (not
// ServeTLS) it: it does the TLS handshakes itself.
type Listener struct {
	ln        net.Listener
	tlsConf   *tls.Config // nil: plain HTTP
	handshake time.Duration
	after     time.Duration
	logger    *slog.Logger

	accepted  chan accepted
	done      chan struct{}
	closeOnce sync.Once
	watch     *watcher // the parked connections (park_linux.go, park_unix.go)
}

// accepted is a connection for the server, or an error from the socket.
type accepted struct {
	conn net.Conn
	err  error
}

// idleReadSize is the size of net/http's connection read buffer. The
// server waits for a next request by reading into the whole, empty
// buffer; a read of any other size has bytes of a pipelined request
// before it, and never parks.
const idleReadSize = 4096

// idlePhase is where a connection's server is between two requests, as
// parkConn sees it (see the package documentation).
type idlePhase = int32

const (
	// notIdle: serving a request, or reading one (the zero value: a new
	// or resumed connection is reading its first request).
	notIdle idlePhase = iota
	// idleArmed: StateIdle was reported; the server's next read deadline
	// is the idle timeout, and starts its wait.
	idleArmed
	// idleWaiting: the idle deadline is set. The server's next read, if
	// it reads at all, is its wait for the next request; the next
	// deadline it sets (read-header) means the wait ended without one —
	// a pipelined request was already buffered.
	idleWaiting
)

// Options say how a Listener parks.
type Options struct {
	// After is how long an HTTP/1.1 connection waits for its next request
	// before it is parked (limits.park_idle_after); it must be > 0.
	After time.Duration
	// TLS, when not nil, is the server's TLS config: the Listener does
	// the handshakes with it (h2 and http/1.1 are added to its
	// NextProtos), each within HandshakeTimeout (0: no bound).
	TLS              *tls.Config
	HandshakeTimeout time.Duration
	// Logger gets failed handshakes (debug) and a failing poller; nil
	// discards them.
	Logger *slog.Logger
}

// New returns ln with its idle HTTP/1.1 connections parked as o says. The
// Listener owns ln: closing it closes ln and every parked connection.
func New(ln net.Listener, o Options) *Listener {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return newListener(ln, o.TLS, o.HandshakeTimeout, o.After, logger)
}

func newListener(ln net.Listener, tlsConf *tls.Config, handshake, after time.Duration, logger *slog.Logger) *Listener {
	if tlsConf != nil {
		tlsConf = tlsConf.Clone()
		for _, p := range []string{"h2", "http/1.1"} {
			if !slices.Contains(tlsConf.NextProtos, p) {
				tlsConf.NextProtos = append(tlsConf.NextProtos, p)
			}
		}
	}
	l := &Listener{
		ln:        ln,
		tlsConf:   tlsConf,
		handshake: handshake,
		after:     after,
		logger:    logger,
		accepted:  make(chan accepted),
		done:      make(chan struct{}),
	}
	l.watch = newWatcher(l)
	go l.acceptLoop()
	return l
}

// ConnState is the http.Server hook that tells a connection its server
// has finished a request and is about to wait for the next (StateIdle),
// or has read a request's head (StateActive). It runs on the connection's
// own goroutine.
func (l *Listener) ConnState(c net.Conn, state http.ConnState) {
	var pc *parkConn
	switch c := c.(type) {
	case *parkConn:
		pc = c
	case *parkTLSConn:
		pc = c.parkConn
	default:
		return
	}
	switch state {
	case http.StateIdle:
		pc.phase.Store(idleArmed)
	case http.StateActive:
		pc.phase.Store(notIdle)
	}
}

func (l *Listener) Accept() (net.Conn, error) {
	select {
	case a := <-l.accepted:
		return a.conn, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting and closes every parked connection: they are idle,
// and the server closes its idle connections when it shuts down too.
func (l *Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.ln.Close()
		l.watch.close()
	})
	return err
}

// Parked reports how many connections are parked now.
func (l *Listener) Parked() int { return l.watch.len() }

func (l *Listener) acceptLoop() {
	var delay time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if !l.deliver(accepted{err: err}) {
				return
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() && !isTemporary(err) {
				return
			}
			// Out of file descriptors and the like: the server backs
			// off before its next Accept; so does this loop.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-l.done:
				return
			}
			continue
		}
		delay = 0
		tcp, ok := conn.(*net.TCPConn)
		switch {
		case !ok:
			l.deliver(accepted{conn: conn})
		case l.tlsConf != nil:
			go l.handshakeTLS(tcp)
		default:
			l.deliver(accepted{conn: l.serverConn(tcp, tcp)})
		}
	}
}

// isTemporary reports whether err is one net/http's Serve retries after a
// pause (EMFILE, ECONNABORTED…). net.Error.Temporary is deprecated because
// the notion is ill-defined, but Serve still decides by it.
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// deliver hands a to the server's Accept. It reports false, closing the
// connection, when the listener is closed.
func (l *Listener) deliver(a accepted) bool {
	select {
	case l.accepted <- a:
		return true
	case <-l.done:
		if a.conn != nil {
			a.conn.Close()
		}
		return false
	}
}

// handshakeTLS does what http.Server does with a *tls.Conn before it
// reads a request, including the plain-text hint for a client that spoke
// HTTP to the TLS port.
func (l *Listener) handshakeTLS(tcp *net.TCPConn) {
	tc := tls.Server(tcp, l.tlsConf)
	if l.handshake > 0 {
		tcp.SetDeadline(time.Now().Add(l.handshake))
	}
	if err := tc.Handshake(); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && tlsRecordLooksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		l.logger.Debug("TLS handshake failed", "remote", tcp.RemoteAddr().String(), "error", err.Error())
		tcp.Close()
		return
	}
	tcp.SetDeadline(time.Time{})
	switch tc.ConnectionState().NegotiatedProtocol {
	case "", "http/1.1":
		l.deliver(accepted{conn: l.serverConn(tc, tcp)})
	default:
		l.deliver(accepted{conn: tc})
	}
}

// tlsRecordLooksLikeHTTP is net/http's test for a plain-text request sent
// to a TLS port.
func tlsRecordLooksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// serverConn is what the server gets for conn (the socket tcp, or TLS
// over it): a parkConn, or a parkTLSConn over TLS.
func (l *Listener) serverConn(conn net.Conn, tcp *net.TCPConn) net.Conn {
	c := &parkConn{Conn: conn, tcp: tcp, l: l}
	if _, isTLS := conn.(*tls.Conn); isTLS {
		return &parkTLSConn{c}
	}
	return c
}

// resume gives a parked connection whose next request has arrived back to
// the server, as a new connection.
func (l *Listener) resume(c *parkConn) {
	go l.deliver(accepted{conn: l.serverConn(c.Conn, c.tcp)})
}

// parkConn is what the server sees of a connection, for one stretch of
// requests between parkings.
type parkConn struct {
	net.Conn              // the socket, or TLS over it
	tcp      *net.TCPConn // the socket
	l        *Listener

	// phase is the idlePhase: set by the ConnState hook and advanced by
	// the server's read deadlines and reads, all on the server's goroutine
	// for the connection; atomic because a handler may set deadlines
	// (http.ResponseController) from goroutines of its own.
	phase atomic.Int32
	// deadline is the read deadline the server last set, in Unix
	// nanoseconds (0: none): the end of the idle timeout while idle.
	deadline atomic.Int64
	// parkUntil is when a released connection's idle time is up.
	parkUntil time.Time
	state     atomic.Int32 // serving, released, parked or closed
}

const (
	serving int32 = iota
	released
	parked
	closed
)

// parkTLSConn is a parkConn over TLS. Its ConnectionState gives the
// server what it needs for Request.TLS; a plain parkConn must not have
// the method, or its requests would look like https.
type parkTLSConn struct{ *parkConn }

func (c *parkTLSConn) ConnectionState() tls.ConnectionState {
	return c.Conn.(*tls.Conn).ConnectionState()
}

// Read is the connection's Read, except for the server's wait for its
// next request (see the package documentation): that read gives up after
// Options.After and answers io.EOF, releasing the connection to be
// parked by Close. No other read ever answers a made-up EOF.
func (c *parkConn) Read(p []byte) (int, error) {
	// The Load spares the common read a compare-and-swap; the first read
	// inside the wait ends it, and only a whole-buffer one is the wait.
	if c.phase.Load() != idleWaiting || !c.phase.CompareAndSwap(idleWaiting, notIdle) || len(p) != idleReadSize {
		return c.Conn.Read(p)
	}
	var until time.Time
	if ns := c.deadline.Load(); ns != 0 {
		until = time.Unix(0, ns)
	}
	park := time.Now().Add(c.l.after)
	if !until.IsZero() && !until.After(park) {
		return c.Conn.Read(p) // the idle timeout ends it first
	}
	c.Conn.SetReadDeadline(park)
	n, err := c.Conn.Read(p)
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		c.Conn.SetReadDeadline(until)
		return n, err
	}
	// Nothing came. The timeout did not break the connection: a
	// *net.TCPConn read nothing, and on a *tls.Conn a timeout is not
	// sticky — a partly received record stays buffered for the next Read.
	c.parkUntil = until
	if !c.state.CompareAndSwap(serving, released) {
		return 0, net.ErrClosed
	}
	return 0, io.EOF
}

// CloseWrite lets the server half-close the connection before it closes
// it, as it does with a *net.TCPConn or *tls.Conn, so that a client still
// sending is not answered with a reset that could destroy the response.
func (c *parkConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *parkConn) SetReadDeadline(t time.Time) error {
	c.setDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *parkConn) SetDeadline(t time.Time) error {
	c.setDeadline(t)
	return c.Conn.SetDeadline(t)
}

// setDeadline records the server's read deadline and moves the idle
// phase on: after StateIdle the first deadline is the idle timeout (the
// wait begins), the second the read-header timeout (the wait is over).
func (c *parkConn) setDeadline(t time.Time) {
	if !c.phase.CompareAndSwap(idleArmed, idleWaiting) {
		c.phase.CompareAndSwap(idleWaiting, notIdle)
	}
	if t.IsZero() {
		c.deadline.Store(0)
		return
	}
	c.deadline.Store(t.UnixNano())
}

// Close parks the connection if Read released it — the server believes
// the client went away — and closes it otherwise. Once parked, the
// connection is the listener's: a later Close from the server (its
// shutdown closing what it still counts as idle) leaves it alone, and the
// listener's own Close ends it.
func (c *parkConn) Close() error {
	for {
		switch c.state.Load() {
		case released:
			if c.state.CompareAndSwap(released, parked) {
				c.l.watch.add(c, c.parkUntil)
				return nil
			}
		case serving:
			if c.state.CompareAndSwap(serving, closed) {
				return c.Conn.Close()
			}
		default: // parked or closed
			return nil
		}
	}
}
