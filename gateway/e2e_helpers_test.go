package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/tokens"
)

// The end-to-end tests run a whole gateway (startServer) on loopback ports
// and talk to it through real sockets, with real httptest backends behind
// it. This file holds what they share.

// testGateway is the directory and ports of one test gateway. Every config
// it writes starts with the same listeners, self-signed TLS, SQLite
// database and signing secret, so that a reload changes only what the test
// puts in the body.
type testGateway struct {
	t                testing.TB
	dir              string
	https, http, ops int
	// tlsExtra and dbExtra are YAML added under tls: and database:
	// (indented two spaces).
	tlsExtra, dbExtra string
	// plain turns TLS off: no https listener, routes on the http one.
	plain bool
}

func newTestGateway(t testing.TB) *testGateway {
	t.Helper()
	return &testGateway{
		t:     t,
		dir:   t.TempDir(),
		https: testenv.FreePort(t),
		http:  testenv.FreePort(t),
		ops:   testenv.FreePort(t),
	}
}

// config returns a whole config file: the fixed head, then body (routes,
// upstreams, limits, …) as YAML at the top level. The bcrypt cost is the
// lowest allowed: the account service hashes a dummy password at start,
// which at the default cost takes seconds under the race detector.
func (g *testGateway) config(body string) string {
	https, mode := fmt.Sprintf(`"127.0.0.1:%d"`, g.https), "self_signed"
	if g.plain {
		https, mode = `""`, "off"
	}
	return fmt.Sprintf(`listen:
  https: %s
  http: "127.0.0.1:%d"
  ops: "127.0.0.1:%d"
tls:
  mode: %s
%sdatabase:
  url: sqlite:%s
%stokens:
  secret: %s
accounts:
  bcrypt_cost: 10
  registration: open
`, https, g.http, g.ops, mode, g.tlsExtra, filepath.Join(g.dir, "authgate.db"), g.dbExtra, testSecret) + body
}

// write writes the config with body as config.yaml and returns its path.
func (g *testGateway) write(body string) string {
	g.t.Helper()
	return writeConfigIn(g.t, g.dir, g.config(body))
}

// start writes the config and starts a gateway on it.
func (g *testGateway) start(body string) *runningServer {
	g.t.Helper()
	return startServer(g.t, g.write(body))
}

// url is the https URL of path on the gateway.
func (g *testGateway) url(path string) string {
	return fmt.Sprintf("https://127.0.0.1:%d%s", g.https, path)
}

func (g *testGateway) httpsAddr() string { return fmt.Sprintf("127.0.0.1:%d", g.https) }
func (g *testGateway) httpAddr() string  { return fmt.Sprintf("127.0.0.1:%d", g.http) }
func (g *testGateway) opsURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", g.ops, path)
}

// roots trusts the gateway's self-signed certificate, which the server
// writes under certs/ next to the config when it starts.
func (g *testGateway) roots() *x509.CertPool {
	g.t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(g.dir, "certs", "selfsigned.crt"))
	if err != nil {
		g.t.Fatalf("read the self-signed certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		g.t.Fatal("certs/selfsigned.crt holds no certificate")
	}
	return pool
}

// client returns a client that trusts the gateway's certificate, speaks
// HTTP/1.1 or (h2) only HTTP/2, and never follows redirects.
func (g *testGateway) client(h2 bool) *http.Client {
	g.t.Helper()
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: g.roots()},
		MaxIdleConnsPerHost: 64,
		Protocols:           new(http.Protocols),
	}
	if h2 {
		tr.Protocols.SetHTTP2(true)
	} else {
		tr.Protocols.SetHTTP1(true)
	}
	g.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialTLS opens an HTTP/1.1 TLS connection to the https listener.
func (g *testGateway) dialTLS() *tls.Conn {
	g.t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", g.httpsAddr(),
		&tls.Config{RootCAs: g.roots(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		g.t.Fatalf("dial %s: %v", g.httpsAddr(), err)
	}
	g.t.Cleanup(func() { c.Close() })
	return c
}

// raw sends request (a whole HTTP/1.1 message, written as is) on a new TLS
// connection and returns the response and its body.
func (g *testGateway) raw(request string) (*http.Response, string) {
	g.t.Helper()
	c := g.dialTLS()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		g.t.Fatalf("write request: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		g.t.Fatalf("read response to %q: %v", firstLine(request), err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

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
