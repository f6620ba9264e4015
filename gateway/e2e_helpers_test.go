package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/tokens"
)

// The end-to-end tests run a whole gateway (testGateway) on loopback
// and talk to it through real sockets, with real httptest backends behind
// it. This file holds the backends and helpers they share.

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// get sends a GET with the given headers (values may repeat a key) and
// returns the status and body.
func get(t testing.TB, c *http.Client, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v // as spelled: no canonicalisation
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

// received is one request as a backend saw it.
type received struct {
	Method     string
	RequestURI string
	Proto      string
	Header     http.Header
	Trailer    http.Header // as read after the body
	Body       string
}

// backend is a real HTTP server behind the gateway that answers every
// request 200 with its name and remembers what it received.
type backend struct {
	*httptest.Server
	name string

	mu   sync.Mutex
	reqs []received
}

func newBackend(t testing.TB, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs = append(b.reqs, received{
			Method: r.Method, RequestURI: r.RequestURI, Proto: r.Proto,
			Header: r.Header.Clone(), Trailer: r.Trailer.Clone(), Body: string(body),
		})
		b.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

// requests returns a copy of what the backend received so far.
func (b *backend) requests() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.reqs...)
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

// last returns the most recent request the backend received.
func (b *backend) last(t testing.TB) received {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.reqs) == 0 {
		t.Fatalf("backend %s received nothing", b.name)
	}
	return b.reqs[len(b.reqs)-1]
}

// mintToken issues an access token the gateway started from cfgFile
// accepts: the same key, issuer and audience (its denylist is empty).
func mintToken(t testing.TB, cfgFile string, in tokens.IssueInput, sub string) string {
	t.Helper()
	cfg, err := Load(cfgFile)
	if err != nil {
		t.Fatalf("Load(%s): %v", cfgFile, err)
	}
	issuer, err := tokens.New(cfg.Tokens, tokens.Options{})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	tok, _, err := issuer.Issue(sub, in)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok
}

// logBuffer collects the server's JSON log lines; safe for the server's
// goroutines and the test to use at once.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
