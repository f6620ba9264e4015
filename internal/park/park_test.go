//go:build unix

package park

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// parkRig is an http.Server behind a Listener that parks after
// 50 ms. Its handler answers with the request's method, path, body and
// whether it came over TLS.
type parkRig struct {
	t   *testing.T
	srv *http.Server
	pl  *Listener
	tls *tls.Config // the server's; nil for plain HTTP

	mu       sync.Mutex
	requests int
}

func newParkRig(t *testing.T, withTLS bool, idle time.Duration) *parkRig {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &parkRig{t: t}
	if withTLS {
		r.tls = testTLSConfig(t)
	}
	r.pl = newListener(ln, r.tls, 5*time.Second, 50*time.Millisecond, slog.New(slog.DiscardHandler))
	r.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			r.mu.Lock()
			r.requests++
			r.mu.Unlock()
			fmt.Fprintf(w, "%s %s %q tls=%t proto=%s", req.Method, req.URL.Path, body, req.TLS != nil, req.Proto)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       idle,
		ConnState:         r.pl.ConnState,
		TLSConfig:         r.tls,
	}
	done := make(chan error, 1)
	go func() { done <- r.srv.Serve(r.pl) }()
	t.Cleanup(func() {
		r.srv.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return r
}

func (r *parkRig) addr() string { return r.pl.Addr().String() }

func (r *parkRig) dial() net.Conn {
	r.t.Helper()
	c, err := net.Dial("tcp", r.addr())
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// parkClock tells that a parking time has passed, by observing it rather
// than by sleeping: a connection to a rig of its own (parking after the
// same 50 ms) makes a request, and tick waits until it is parked, which
// is at least 50 ms after its answer was written — so 50 ms after
// whatever the test did before the tick.
type parkClock struct {
	r  *parkRig
	c  net.Conn
	br *bufio.Reader
}

func newParkClock(t *testing.T) *parkClock {
	t.Helper()
	r := newParkRig(t, false, time.Minute)
	c := r.dial()
	return &parkClock{r: r, c: c, br: bufio.NewReader(c)}
}

// tick returns once a parking time has passed since it was called.
func (k *parkClock) tick() {
	k.r.t.Helper()
	// Once the answer is read the connection is with the server again
	// (resumed, if it was parked): it is parked only after its next idle
	// wait.
	sendRequest(k.r.t, k.c, k.br, getRequest("/tick"))
	k.r.waitParked(1)
}

// waitParked waits until n connections are parked.
func (r *parkRig) waitParked(n int) {
	r.t.Helper()
	testenv.WaitFor(r.t, fmt.Sprintf("%d parked connections", n), func() bool { return r.pl.Parked() == n })
}

// sendRequest writes request on c and reads one response.
func sendRequest(t *testing.T, c net.Conn, br *bufio.Reader, request string) string {
	t.Helper()
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatalf("write: %v", err)
	}
	return readBody(t, br)
}

func readBody(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(body)
}

func getRequest(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

func TestParkedConnectionServesItsNextRequest(t *testing.T) {
	r := newParkRig(t, false, time.Minute)
	c := r.dial()
	br := bufio.NewReader(c)
	for i := range 3 {
		path := fmt.Sprintf("/req%d", i)
		if got := sendRequest(t, c, br, getRequest(path)); got != `GET `+path+` "" tls=false proto=HTTP/1.1` {
			t.Fatalf("request %d answered %q", i, got)
		}
		r.waitParked(1)
	}
	// A request with a body, after parking, and the one after it.
	post := "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	if got := sendRequest(t, c, br, post); got != `POST /form "hello" tls=false proto=HTTP/1.1` {
		t.Fatalf("POST answered %q", got)
	}
	r.waitParked(1)
	c.Close()
	r.waitParked(0)
}

// Requests that arrive together, or a request that arrives in pieces
// around a parking, are answered in full and in order: parking never
// drops a byte.
func TestParkingLosesNoBytes(t *testing.T) {
	r := newParkRig(t, false, time.Minute)
	c := r.dial()
	br := bufio.NewReader(c)

	// Pipelined: three requests in one write.
	if _, err := io.WriteString(c, getRequest("/a")+getRequest("/b")+getRequest("/c")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/a", "/b", "/c"} {
		if got := readBody(t, br); !strings.HasPrefix(got, "GET "+want+" ") {
			t.Fatalf("pipelined response %q; want %s", got, want)
		}
	}
	r.waitParked(1)

	// Split: the first bytes wake the connection, each of the others
	// follows once a parking time has passed: a server that took the wait
	// for the rest of a head for the wait between requests would park the
	// connection meanwhile, and lose or misread what follows.
	clock := newParkClock(t)
	req := getRequest("/split")
	for _, piece := range []string{req[:2], req[2:9], req[9:]} {
		if _, err := io.WriteString(c, piece); err != nil {
			t.Fatal(err)
		}
		clock.tick()
	}
	if got := readBody(t, br); !strings.HasPrefix(got, "GET /split ") {
		t.Fatalf("split request answered %q", got)
	}
	r.waitParked(1)
}

// A parked connection still ends at the idle timeout, counted from the
// end of its last response.
func TestParkedConnectionIdleTimeout(t *testing.T) {
	r := newParkRig(t, false, 2*time.Second)
	c := r.dial()
	br := bufio.NewReader(c)
	sendRequest(t, c, br, getRequest("/"))
	r.waitParked(1)
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("parked connection after the idle timeout: read %v; want EOF", err)
	}
	r.waitParked(0)
}

// Shutting the server down closes parked connections and does not wait
// for them.
func TestParkedConnectionsCloseOnShutdown(t *testing.T) {
	r := newParkRig(t, false, time.Minute)
	var conns []*bufio.Reader
	for range 5 {
		c := r.dial()
		br := bufio.NewReader(c)
		sendRequest(t, c, br, getRequest("/"))
		conns = append(conns, br)
	}
	r.waitParked(5)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, br := range conns {
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("connection %d after shutdown: read %v; want EOF", i, err)
		}
	}
	if n := r.pl.Parked(); n != 0 {
		t.Errorf("%d connections still parked after shutdown", n)
	}
}

// Over TLS, an HTTP/1.1 connection parks and keeps its TLS session —
// the client reuses it and the handler still sees Request.TLS — while
// HTTP/2 connections go to the server as they are.
func TestParkingOverTLS(t *testing.T) {
	r := newParkRig(t, true, time.Minute)
	roots := x509.NewCertPool()
	roots.AddCert(r.tls.Certificates[0].Leaf)

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, Protocols: new(http.Protocols)}
	tr.Protocols.SetHTTP1(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	reused := 0
	for i := range 3 {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if info.Reused {
					reused++
				}
			},
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+r.addr()+"/tls", nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if got := string(body); got != `GET /tls "" tls=true proto=HTTP/1.1` {
			t.Fatalf("request %d answered %q", i, got)
		}
		r.waitParked(1)
	}
	if reused != 2 {
		t.Errorf("the client reused its connection %d times; want 2", reused)
	}

	h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, Protocols: new(http.Protocols)}
	h2.Protocols.SetHTTP2(true)
	defer h2.CloseIdleConnections()
	res, err := (&http.Client{Transport: h2, Timeout: 10 * time.Second}).Get("https://" + r.addr() + "/h2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if got := string(body); got != `GET /h2 "" tls=true proto=HTTP/2.0` {
		t.Fatalf("HTTP/2 request answered %q", got)
	}
	newParkClock(t).tick() // long enough for the HTTP/2 connection to park, if it could
	if n := r.pl.Parked(); n != 1 {
		t.Errorf("%d parked connections after an HTTP/2 request; want 1 (HTTP/2 never parks)", n)
	}

	// Plain HTTP sent to the TLS port gets net/http's hint, as before.
	c := r.dial()
	body2 := sendRequest(t, c, bufio.NewReader(c), getRequest("/"))
	if !strings.Contains(body2, "HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP to the TLS port answered %q", body2)
	}
}

// With no idle timeout parked connections wait for as long as the client
// keeps them; a client that hangs up ends its parked connection.
func TestParkedConnectionClientHangsUp(t *testing.T) {
	r := newParkRig(t, false, 0)
	var conns []net.Conn
	for range 3 {
		c := r.dial()
		sendRequest(t, c, bufio.NewReader(c), getRequest("/"))
		conns = append(conns, c)
	}
	r.waitParked(3)
	// The watcher looks for connections whose idle time is up: without
	// an idle timeout it must find none.
	waitExpiryScans(t, r.pl, 2)
	if n := r.pl.Parked(); n != 3 {
		t.Fatalf("%d connections parked after the watcher looked for expired ones; want 3", n)
	}
	for i, c := range conns {
		c.Close()
		r.waitParked(2 - i)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.requests != 3 {
		t.Errorf("handler saw %d requests; want 3", r.requests)
	}
}
