//go:build unix

package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// pipelineBackend records each request's method, path and body, and
// tells arrived when a POST's head has come in (its body may still be on
// its way).
type pipelineBackend struct {
	*httptest.Server
	arrived chan struct{}
	mu      sync.Mutex
	seen    []string
}

func newPipelineBackend(t *testing.T) *pipelineBackend {
	t.Helper()
	b := &pipelineBackend{arrived: make(chan struct{}, 8)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b.arrived <- struct{}{}
		}
		body, err := io.ReadAll(r.Body)
		b.mu.Lock()
		b.seen = append(b.seen, fmt.Sprintf("%s %s %q err=%v", r.Method, r.URL.Path, body, err))
		b.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *pipelineBackend) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// TestParkingPipelinedSlowBody is the review's smuggling through parking:
// one write carries "GET /pub/one" and the head of a pipelined
// "POST /pub/two" with Content-Length: 100 and 4 bytes of its body; the
// other 96 bytes — which spell a request of their own — come only after
// park_idle_after has passed. Parking used to mistake the body read for
// the wait for a next request: the POST failed with exactly 4 bytes
// upstream, and the 96 bytes were routed as "GET /pub/SMUGGLED". Now the
// body arrives whole and nothing else is routed, over TLS and plain HTTP.
//
// "After park_idle_after" is observed, not slept: once the backend has
// the POST's head (the gateway is then reading its body), a second
// connection makes a request and the test waits for it to be parked,
// which takes park_idle_after from a moment after the body read began.
func TestParkingPipelinedSlowBody(t *testing.T) {
	for _, plain := range []bool{false, true} {
		name := "tls"
		if plain {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			b := newPipelineBackend(t)
			g := newTestGateway(t)
			g.plain = plain
			g.start(`routes:
  - path: /pub
    auth: public
    upstream: ` + b.URL + `
limits:
  park_idle_after: 100ms
`)
			dial := func() (net.Conn, *bufio.Reader) {
				t.Helper()
				var c net.Conn
				if plain {
					c = dialTCP(g.httpAddr())(t)
				} else {
					c = g.dialTLS()
				}
				c.SetDeadline(time.Now().Add(30 * time.Second))
				return c, bufio.NewReader(c)
			}
			var host string
			if plain {
				host = g.httpAddr()
			} else {
				host = g.httpsAddr()
			}
			smuggled := "GET /pub/SMUGGLED HTTP/1.1\r\nHost: " + host + "\r\nX-Pad: "
			smuggled += strings.Repeat("p", 96-len(smuggled)-4) + "\r\n\r\n"
			body := "abcd" + smuggled

			c, br := dial()
			io.WriteString(c, "GET /pub/one HTTP/1.1\r\nHost: "+host+"\r\n\r\n"+
				"POST /pub/two HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 100\r\n\r\n"+body[:4])
			if got := readBody(t, br); got != "ok" {
				t.Fatalf("GET /pub/one answered %q", got)
			}
			select {
			case <-b.arrived:
			case <-time.After(30 * time.Second):
				t.Fatal("the POST's head never reached the backend")
			}
			canary, cbr := dial()
			io.WriteString(canary, "GET /pub/canary HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
			readBody(t, cbr)
			testenv.WaitFor(t, "the second connection to be parked", func() bool { return parkedGauge(t, g) >= 1 })

			io.WriteString(c, body[4:])
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the POST's answer: %v", err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("POST /pub/two = %d %s; want 200", res.StatusCode, got)
			}
			if _, err := io.WriteString(c, "GET /pub/three HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err == nil {
				if res, err := http.ReadResponse(br, nil); err == nil {
					res.Body.Close()
				}
			}
			want := []string{ // in the order they ended
				`GET /pub/one "" err=<nil>`,
				`GET /pub/canary "" err=<nil>`,
				fmt.Sprintf("POST /pub/two %q err=<nil>", body),
				`GET /pub/three "" err=<nil>`,
			}
			if seen := b.requests(); strings.Join(seen, "\n") != strings.Join(want, "\n") {
				t.Errorf("the backend received:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// readBody reads one response off br and returns its body.
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
