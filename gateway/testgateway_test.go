package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The one way gateway's tests start a gateway: newTestGateway, set what
// the test needs in the config head, then start (or write, then run) —
// in this process — or startProcess (process_test.go) for the binary.
//
// Every listener binds 127.0.0.1:0 and the gateway reports the addresses
// it got: Server.Addr in this process, the "listeners" log line from the
// binary. The test reads them from g (url, httpsAddr, opsURL, …) and
// never picks a port, so no other test, of this package or another one
// running in parallel, can take it first.

// testGateway is the directory and config of one test gateway, and the
// addresses of the one last started on it. Every config it writes starts
// with the same head — listeners, TLS, database, signing key, accounts —
// so that a reload changes only what the test puts in the body.
type testGateway struct {
	t   testing.TB
	dir string

	// The config head. The zero value is: https, http and ops listeners,
	// tls.mode self_signed, a SQLite file in dir, the HS256 test secret,
	// the lowest bcrypt cost and open registration.
	plain    bool   // tls.mode off: no https listener, routes on the http one
	tlsMode  string // tls.mode when not plain; "" = self_signed
	tlsExtra string // YAML under tls: (indented two spaces)
	dbURL    string // database.url; "" = sqlite: in dir
	dbExtra  string // YAML under database:
	tokens   string // YAML under tokens:; "" = the HS256 test secret
	accounts string // YAML under accounts:; "" = bcrypt_cost 10, registration open
	// samePorts makes the configs written from now on name the ports the
	// last gateway got instead of port 0: a restart on the same ports, as
	// an operator's would be.
	samePorts bool

	// The server's log: JSON at debug level to logTo (and to stderr under
	// -v); nil discards it. logger, when set, is used instead.
	logTo  io.Writer
	logger *slog.Logger

	mu    sync.Mutex
	addrs map[string]string // by listener name; set when a gateway starts
}

func newTestGateway(t testing.TB) *testGateway {
	t.Helper()
	return &testGateway{t: t, dir: t.TempDir()}
}

// config returns a whole config file: the head, then body (routes,
// upstreams, limits, …) as YAML at the top level. The bcrypt cost is the
// lowest allowed: the account service hashes a dummy password at start,
// which at the default cost takes seconds under the race detector.
func (g *testGateway) config(body string) string {
	var b strings.Builder
	https, mode := strconv.Quote(g.listenAddr("https")), g.tlsMode
	if mode == "" {
		mode = "self_signed"
	}
	if g.plain {
		https, mode = `""`, `"off"`
	}
	fmt.Fprintf(&b, "listen:\n  https: %s\n  http: %q\n  ops: %q\n", https, g.listenAddr("http"), g.listenAddr("ops"))
	fmt.Fprintf(&b, "tls:\n  mode: %s\n%s", mode, g.tlsExtra)
	db := g.dbURL
	if db == "" {
		db = "sqlite:" + filepath.Join(g.dir, "authgate.db")
	}
	fmt.Fprintf(&b, "database:\n  url: %s\n%s", db, g.dbExtra)
	tokens := g.tokens
	if tokens == "" {
		tokens = "  secret: " + testSecret + "\n"
	}
	accounts := g.accounts
	if accounts == "" {
		accounts = "  bcrypt_cost: 10\n  registration: open\n"
	}
	fmt.Fprintf(&b, "tokens:\n%saccounts:\n%s", tokens, accounts)
	return b.String() + body
}

// listenAddr is what the config says for listener name: port 0, or with
// samePorts the address the last gateway got.
func (g *testGateway) listenAddr(name string) string {
	if g.samePorts {
		g.mu.Lock()
		defer g.mu.Unlock()
		if a, ok := g.addrs[name]; ok {
			return a
		}
	}
	return "127.0.0.1:0"
}

// write writes the config with body as config.yaml and returns its path.
func (g *testGateway) write(body string) string {
	g.t.Helper()
	p := filepath.Join(g.dir, "config.yaml")
	writeFile(g.t, p, []byte(g.config(body)))
	return p
}

// start writes the config with body and runs a gateway on it.
func (g *testGateway) start(body string) *runningServer {
	g.t.Helper()
	return g.run(g.write(body))
}

// runningServer is a gateway started by a test in this process. It runs
// until the test ends, unless the test stops it first.
type runningServer struct {
	*Server
	// reload: a value re-reads the config file, as SIGHUP does.
	reload chan struct{}
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// run builds a Server from cfgFile (written by g), runs it until the
// test ends, and returns once its listeners serve; g then reports their
// addresses.
func (g *testGateway) run(cfgFile string) *runningServer {
	g.t.Helper()
	rs, err := g.tryRun(cfgFile)
	if err != nil {
		g.t.Fatal(err)
	}
	return rs
}

// tryRun is run that returns an error, instead of failing the test, when
// the server cannot be built or its listeners cannot be bound.
func (g *testGateway) tryRun(cfgFile string) (*runningServer, error) {
	g.t.Helper()
	logger := g.logger
	if logger == nil {
		w := g.logTo
		if w == nil {
			w = io.Discard
		}
		if testing.Verbose() {
			w = io.MultiWriter(w, os.Stderr)
		}
		logger = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Options{ConfigPath: cfgFile, Logger: logger, Version: "test"})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("New(%s): %w", cfgFile, err)
	}
	rs := &runningServer{Server: s, reload: make(chan struct{}), cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- s.Run(ctx, rs.reload) }()
	select {
	case <-s.Ready():
	case err := <-rs.done:
		cancel()
		return nil, fmt.Errorf("Run: %w", err)
	case <-time.After(60 * time.Second):
		g.t.Cleanup(func() { rs.stop() })
		return nil, errors.New("the gateway did not start serving within 60 s")
	}
	g.t.Cleanup(func() {
		if err := rs.stop(); err != nil {
			g.t.Errorf("stop: %v", err)
		}
	})
	addrs := map[string]string{}
	for _, name := range []string{"https", "http", "ops"} {
		if a := s.Addr(name); a != nil {
			addrs[name] = a.String()
		}
	}
	g.setAddrs(addrs)
	return rs, nil
}

// stop cancels Run's context — what SIGTERM does in main — and waits for
// Run to return, which drains in-flight requests first. It returns Run's
// result; calling it again returns the same.
func (rs *runningServer) stop() error {
	rs.once.Do(func() {
		rs.cancel()
		select {
		case rs.err = <-rs.done:
		case <-time.After(60 * time.Second):
			rs.err = errors.New("Run did not return within 60 s of the cancel")
		}
	})
	return rs.err
}

func (g *testGateway) setAddrs(addrs map[string]string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.addrs = addrs
}

// addr is the bound host:port of listener name ("https", "http", "ops")
// of the gateway last started on g.
func (g *testGateway) addr(name string) string {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.addrs == nil {
		g.t.Fatalf("no gateway has been started: no %s address yet", name)
	}
	a, ok := g.addrs[name]
	if !ok {
		g.t.Fatalf("the gateway has no %s listener", name)
	}
	return a
}

// port is the port of listener name.
func (g *testGateway) port(name string) int {
	g.t.Helper()
	_, p, err := net.SplitHostPort(g.addr(name))
	if err != nil {
		g.t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		g.t.Fatal(err)
	}
	return n
}

func (g *testGateway) httpsAddr() string { g.t.Helper(); return g.addr("https") }
func (g *testGateway) httpAddr() string  { g.t.Helper(); return g.addr("http") }

// url is the https URL of path on the gateway.
func (g *testGateway) url(path string) string {
	g.t.Helper()
	return "https://" + g.addr("https") + path
}

// opsURL is the URL of path on the ops listener.
func (g *testGateway) opsURL(path string) string {
	g.t.Helper()
	return "http://" + g.addr("ops") + path
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
