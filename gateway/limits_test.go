package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMaxHeaderBytes: a request whose head is larger than
// limits.max_header_bytes (default 64 KiB) is refused with 431, and the
// server goes on serving.
func TestMaxHeaderBytes(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	g.start(publicRoute(b))

	huge := "GET /x HTTP/1.1\r\nHost: " + g.httpsAddr() + "\r\n"
	for i := range 100 {
		huge += "X-Filler-" + string(rune('a'+i%26)) + strings.Repeat("f", i/26) + ": " + strings.Repeat("v", 1000) + "\r\n"
	}
	huge += "\r\n"
	if len(huge) < 100<<10-2048 {
		t.Fatalf("the test request head is only %d bytes", len(huge))
	}
	res, _ := g.raw(huge)
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("%d-byte request head = %d; want 431", len(huge), res.StatusCode)
	}
	if n := b.count(); n != 0 {
		t.Errorf("backend received %d requests; want none", n)
	}
	checkStillServes(t, g)
}

// TestReadHeaderTimeout: a client that stalls before or inside its
// request head is disconnected after limits.read_header_timeout, on every
// listener, and the server goes on serving.
func TestReadHeaderTimeout(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	g.start("limits:\n  read_header_timeout: 1s\n" + publicRoute(b))

	tests := []struct {
		name string
		dial func(t *testing.T) net.Conn
		send string // then nothing more
	}{
		{name: "ok-https-silent-before-handshake", dial: dialTCP(g.httpsAddr())},
		{name: "ok-https-silent-after-handshake", dial: dialTLSConn(g)},
		{name: "ok-https-half-request-line", dial: dialTLSConn(g), send: "GET /x HT"},
		{name: "ok-https-half-headers", dial: dialTLSConn(g), send: "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "},
		{name: "ok-http-half-request-line", dial: dialTCP(g.httpAddr()), send: "GET /x HT"},
		{name: "ok-ops-half-request-line", dial: dialTCP(g.opsURL("")[len("http://"):]), send: "GET /metr"},
	}
	// Every client stalls at once, so the test waits about one timeout.
	type outcome struct {
		got []byte
		err error
	}
	outs := make([]outcome, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		c := tt.dial(t)
		if tt.send != "" {
			if _, err := io.WriteString(c, tt.send); err != nil {
				t.Fatalf("%s: write: %v", tt.name, err)
			}
		}
		wg.Go(func() {
			// Generous: the server's deadline is 1 s. Only a server that
			// never hangs up runs into this one.
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			outs[i].got, outs[i].err = io.ReadAll(c)
		})
	}
	wg.Wait()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := outs[i].got, outs[i].err
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the server kept a stalled connection open (read %q)", got)
			}
			// Go hangs up, having answered a head it read part of with a
			// 4xx (400 or 408, depending on the version).
			if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 4")) {
				t.Errorf("stalled client got %q; want a 4xx or nothing, then the connection closed", got)
			}
		})
	}
	t.Run("ok-still-serves", func(t *testing.T) { checkStillServes(t, g) })
}

func dialTCP(addr string) func(t *testing.T) net.Conn {
	return func(t *testing.T) net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
}

func dialTLSConn(g *testGateway) func(t *testing.T) net.Conn {
	return func(t *testing.T) net.Conn {
		t.Helper()
		c := g.dialTLS()
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// TestContentLengthAndTransferEncoding checks the framing headers request
// smuggling plays on (RFC 9112 §6.1, §6.3, §11.2). Conflicting or unknown
// framing is refused by Go's server. A request with both Transfer-Encoding:
// chunked and Content-Length is not: Go reads it by its chunked framing and
// deletes Content-Length (RFC 9112 §6.3 allows that), so the upstream gets
// it framed one way only; and the gateway closes the connection after the
// answer, as §6.1 requires.
func TestContentLengthAndTransferEncoding(t *testing.T) {
	rb := newRawBackend(t)
	g := newTestGateway(t)
	g.start(`routes:
  - name: pub
    path: /pub
    auth: public
    upstream: ` + rb.url + `
  - name: private
    path: /private
    auth: required
    upstream: ` + rb.url + "\n")
	host := "Host: " + g.httpsAddr() + "\r\n"

	refused := []struct {
		name   string
		head   string
		want   int
		reason string
	}{
		{name: "fail-two-content-lengths", head: "Content-Length: 3\r\nContent-Length: 5\r\n", want: http.StatusBadRequest},
		{name: "fail-content-length-list", head: "Content-Length: 3, 5\r\n", want: http.StatusBadRequest},
		{name: "fail-te-gzip-chunked", head: "Transfer-Encoding: gzip, chunked\r\n", want: http.StatusNotImplemented},
		{name: "fail-te-twice", head: "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", want: http.StatusNotImplemented},
		{name: "fail-te-unknown", head: "Transfer-Encoding: xchunked\r\n", want: http.StatusNotImplemented},
		{name: "fail-te-with-space-in-name", head: "Transfer-Encoding : chunked\r\n", want: http.StatusBadRequest},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := g.raw("POST /pub HTTP/1.1\r\n" + host + tt.head + "\r\n3\r\nabc\r\n0\r\n\r\n")
			if res.StatusCode != tt.want {
				t.Errorf("POST with %q = %d; want %d", tt.head, res.StatusCode, tt.want)
			}
		})
	}
	if n := len(rb.requests()); n != 0 {
		t.Fatalf("the backend received %d of the refused requests; want none", n)
	}

	t.Run("ok-chunked-wins-one-framing-upstream", func(t *testing.T) {
		res, body := g.raw("POST /pub HTTP/1.1\r\n" + host +
			"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		if res.StatusCode != http.StatusOK || body != "ok" {
			t.Fatalf("POST with both = %d %q; want 200 from the backend", res.StatusCode, body)
		}
		got := rb.last(t)
		if got.body != "hello" {
			t.Errorf("backend body = %q; want %q (the chunked body, not Content-Length's 3 bytes)", got.body, "hello")
		}
		head := strings.ToLower(got.head)
		if strings.Contains(head, "\ncontent-length:") && strings.Contains(head, "\ntransfer-encoding:") {
			t.Errorf("backend received both framing headers:\n%s", got.head)
		}
	})

	// RFC 9112 §6.1: after a request with both framing headers the server
	// MUST close the connection, so that bytes a front proxy framed by
	// Content-Length can never be read here as a request of their own.
	t.Run("fail-smuggled-request-never-read", func(t *testing.T) {
		before := len(rb.requests())
		body := "0\r\n\r\nGET /pub/smuggled HTTP/1.1\r\n" + host + "\r\n"
		c := g.dialTLS()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(c, "POST /pub HTTP/1.1\r\n"+host+
			"Content-Length: "+strconv.Itoa(len(body))+"\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !res.Close {
			t.Errorf("POST with both framing headers = %d, Connection: close %t; want 200 and close", res.StatusCode, res.Close)
		}
		if next, err := http.ReadResponse(br, nil); err == nil {
			t.Errorf("a second response (%d) followed on the connection; want it closed", next.StatusCode)
		}
		for _, r := range rb.requests()[before:] {
			if strings.Contains(r.head, "smuggled") {
				t.Errorf("the smuggled request reached the backend:\n%s", r.head)
			}
		}
	})

	// Requests framed by Content-Length alone keep the connection.
	t.Run("ok-content-length-keeps-the-connection", func(t *testing.T) {
		c := g.dialTLS()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		for i := range 2 {
			io.WriteString(c, "POST /pub HTTP/1.1\r\n"+host+"Content-Length: 2\r\n\r\nhi")
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d on one connection: %v", i+1, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Close {
				t.Errorf("request %d = %d, Connection: close %t; want 200, kept alive", i+1, res.StatusCode, res.Close)
			}
		}
	})
}

// publicRoute is a single public route for everything to b.
func publicRoute(b *backend) string {
	return "routes:\n  - name: app\n    path: /\n    auth: public\n    upstream: " + b.URL + "\n"
}

// checkStillServes sends one ordinary request through the gateway.
func checkStillServes(t *testing.T, g *testGateway) {
	t.Helper()
	res, body := get(t, g.client(false), g.url("/after"), nil)
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /after = %d %q; want 200: the server must keep serving", res.StatusCode, body)
	}
}

// rawRequest is a request as a rawBackend read it off the wire: the head
// exactly as sent, and the body as its framing delimits it.
type rawRequest struct {
	head, body string
}

// rawBackend is an HTTP/1.1 server that keeps the raw bytes of each
// request head, so a test can see the framing headers the gateway sent
// (a Go server would delete Content-Length before a handler sees it).
type rawBackend struct {
	url  string
	mu   sync.Mutex
	reqs []rawRequest
}

func newRawBackend(t *testing.T) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rb := &rawBackend{url: "http://" + ln.Addr().String()}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, nil)
			wg.Go(func() { rb.serve(c) })
		}
	})
	return rb
}

func (rb *rawBackend) serve(c net.Conn) {
	defer c.Close()
	var head bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &head))
	for {
		head.Reset()
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		h, _, _ := strings.Cut(head.String(), "\r\n\r\n")
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		rb.mu.Lock()
		rb.reqs = append(rb.reqs, rawRequest{head: h + "\r\n\r\n", body: string(body)})
		rb.mu.Unlock()
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

func (rb *rawBackend) requests() []rawRequest {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return append([]rawRequest(nil), rb.reqs...)
}

func (rb *rawBackend) last(t *testing.T) rawRequest {
	t.Helper()
	r := rb.requests()
	if len(r) == 0 {
		t.Fatal("the raw backend received nothing")
	}
	return r[len(r)-1]
}
