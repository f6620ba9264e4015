// Package park keeps idle HTTP/1.1 keep-alive connections open without a
// goroutine or buffers of the HTTP server: it wraps a net.Listener and
// hands back a ConnState hook for the http.Server, and says how many
// connections are parked (Parked, for a metric). It owns nothing else.
//
// It imports only the standard library and golang.org/x/sys, never
// another authgate package: the gateway uses it, not the other way round.
// Its tests are the early warning for Go upgrades: parking follows
// net/http's private sequence of ConnState, deadlines and reads for a
// connection between requests (below), and a release that changes that
// sequence must fail them before it ships.
//
// Go's HTTP server gives each connection a goroutine, a 4 KiB read buffer
// and a 4 KiB write buffer for as long as the connection is open, and the
// goroutine keeps the 8 KiB stack a request grew: about 23 KiB for every
// idle keep-alive connection, 230 MiB for 10,000 of them. Browsers and
// client connection pools hold connections open that are idle nearly all
// the time.
//
// A Listener sits between the socket and the http.Server of a public
// listener. When an HTTP/1.1 connection has waited Options.After (the
// gateway's limits.park_idle_after) for its next request, the server lets
// go of it — its goroutine ends and its buffers go back to the server's
// pools — and the socket stays open, watched by a goroutine that waits, on a small
// stack, for the socket to become readable without reading from it. When
// the next request arrives the listener hands the connection to the
// server again, as if it were new. Nothing is read while a connection is
// parked, so no byte is lost; the idle timeout keeps counting.
//
// The server lets go like this. Once it has finished a request
// (http.conn.serve) it reports StateIdle, sets the idle-timeout read
// deadline, waits for the next request with a Peek — which reads into its
// empty read buffer, unless bytes of a pipelined request are already
// there — and then sets the read-header deadline and reads the request.
// parkConn follows those steps (idlePhase): only a read made between the
// idle deadline and the read-header deadline, into the whole buffer, is
// that wait. That read alone gets a deadline of Options.After, and if it
// passes with nothing read answers io.EOF, which the server takes for a
// client that went away: it closes the connection, and parkConn.Close
// parks it instead. Every other read — of a request's head or body,
// pipelined or not, whatever its size — is a plain read and never
// answers a made-up EOF: a connection is idle only between requests.
//
// For TLS the listener does the handshake itself, so the server sees a
// parkConn whose ConnectionState fills Request.TLS; a connection that
// negotiates anything but HTTP/1.1 (h2, or acme-tls/1 for an ACME
// TLS-ALPN-01 challenge) goes to the server as the *tls.Conn it expects,
// and is never parked. Parking is for HTTP/1.1 only.
package park
