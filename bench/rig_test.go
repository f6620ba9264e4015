package bench

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/gateway"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/tokens"
)

// The rig: one backend, gateways built from a few options, and one client
// that keeps its connections alive, shared by every measurement so that
// client-side costs are the same in every row.

// backendBody is what the backend answers: about the size of a small JSON
// API answer. The load script's backend (scripts/loadtest/backend) sends
// the same.
const backendBody = `{"ok":true,"items":[1,2,3]}` + "\n"

// newBackend starts the backend every proxy under test forwards to.
func newBackend(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, backendBody)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// newClient returns the client of every measurement: HTTP/1.1 only (as
// wrk), connections kept alive and enough of them idle for the benchmark's
// goroutines. Certificates are not verified: both TLS servers are ours, on
// loopback, and the handshake happens once per connection.
func newClient(tb testing.TB) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		Protocols:           new(http.Protocols),
	}
	tr.Protocols.SetHTTP1(true)
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// gwOptions says which gateway to start.
type gwOptions struct {
	alg       string // HS256 (default) or ES256
	redis     bool   // the Redis denylist (a unique key prefix), else the database's
	redisVia  string // host:port the gateway reaches Redis at (a relay); "" = Redis itself
	noLog     bool   // log.access: false
	tls       bool   // tls.mode self_signed on an https listener, else off
	database  string // database.url; "" = SQLite in the gateway's directory
	gogc      int    // runtime.gogc, only meaningful to a separate process
	ops       bool   // serve the ops listener (/metrics)
	bcrypt    int    // accounts.bcrypt_cost; 0 = 10, the lowest allowed
	extraYAML string // appended at the top level
}

// gw is one running gateway.
type gw struct {
	*gateway.Server
	base    string // scheme://host:port of the listener that serves routes
	cfgFile string
	dir     string
	prefix  string // Redis key prefix; "" without Redis
}

// gatewayConfig writes a config for o, with a public route under /public
// and a protected one under /api, both to backendURL, and returns the
// file's path and the Redis key prefix. Its listeners bind port 0: the
// gateway reports the ports it got (Server.Addr, or the "listeners" log
// line of a separate process; see baseURL).
func gatewayConfig(tb testing.TB, dir, backendURL string, o gwOptions) (cfgFile, prefix string) {
	tb.Helper()
	var b strings.Builder
	ops := ""
	if o.ops {
		ops = "127.0.0.1:0"
	}
	if o.tls {
		fmt.Fprintf(&b, "listen:\n  https: \"127.0.0.1:0\"\n  http: \"\"\n  ops: %q\ntls:\n  mode: self_signed\n", ops)
	} else {
		fmt.Fprintf(&b, "listen:\n  https: \"\"\n  http: \"127.0.0.1:0\"\n  ops: %q\ntls:\n  mode: \"off\"\n", ops)
	}
	db := o.database
	if db == "" {
		db = "sqlite:" + filepath.Join(dir, "authgate.db")
	}
	fmt.Fprintf(&b, "database:\n  url: %q\n", db)
	if o.redis {
		var url string
		url, prefix = testenv.RedisURL(tb)
		if o.redisVia != "" {
			url = viaHost(tb, url, o.redisVia)
		}
		fmt.Fprintf(&b, "redis:\n  url: %q\n  key_prefix: %q\n", url, prefix)
	}
	switch o.alg {
	case "", tokens.AlgHS256:
		fmt.Fprintf(&b, "tokens:\n  algorithm: HS256\n  secret: %q\n", testSecret)
	default:
		key, err := tokens.Keygen(o.alg)
		if err != nil {
			tb.Fatal(err)
		}
		keyFile := filepath.Join(dir, "signing.pem")
		if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&b, "tokens:\n  algorithm: %s\n  private_key_file: %q\n", o.alg, keyFile)
	}
	// By default the lowest cost allowed: the account service hashes a
	// dummy password at start.
	cost := o.bcrypt
	if cost == 0 {
		cost = 10
	}
	fmt.Fprintf(&b, "accounts:\n  bcrypt_cost: %d\n  registration: open\n", cost)
	fmt.Fprintf(&b, "log:\n  access: %t\n", !o.noLog)
	if o.gogc != 0 {
		fmt.Fprintf(&b, "runtime:\n  gogc: %d\n", o.gogc)
	}
	b.WriteString(o.extraYAML)
	fmt.Fprintf(&b, `routes:
  - name: public
    path: /public
    auth: public
    upstream: %[1]s
  - name: api
    path: /api
    auth: required
    upstream: %[1]s
`, backendURL)
	cfgFile = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return cfgFile, prefix
}

// baseURL is the URL of the listener that serves routes, given the bound
// address of each listener.
func baseURL(o gwOptions, addrs map[string]string) string {
	if o.tls {
		return "https://" + addrs["https"]
	}
	return "http://" + addrs["http"]
}

// loggedListeners waits until the log file of a gateway running as a
// process holds its "listeners" line and returns the bound address of
// each listener it names.
func loggedListeners(tb testing.TB, logFile string) map[string]string {
	tb.Helper()
	var addrs map[string]string
	testenv.WaitFor(tb, "the gateway's listeners line in "+logFile, func() bool {
		data, err := os.ReadFile(logFile)
		if err != nil {
			tb.Fatal(err)
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "listeners" {
				continue
			}
			addrs = map[string]string{}
			for _, name := range []string{"https", "http", "ops"} {
				if v, ok := m[name].(string); ok {
					addrs[name], _, _ = strings.Cut(v, " ") // the address, then what it serves
				}
			}
			return true
		}
		return false
	})
	return addrs
}

// startGateway runs a gateway in this process until the test or benchmark
// ends. Its log (the access log included, when on) goes to a file, as a
// real deployment's stderr goes to a pipe or a file: the cost of writing
// it is part of what is measured.
func startGateway(tb testing.TB, backendURL string, o gwOptions) *gw {
	tb.Helper()
	dir := tb.TempDir()
	cfgFile, prefix := gatewayConfig(tb, dir, backendURL, o)
	logFile, err := os.Create(filepath.Join(dir, "authgate.log"))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := gateway.New(ctx, gateway.Options{
		ConfigPath: cfgFile,
		Logger:     gateway.NewLogger(logFile, gateway.Log{}),
		Version:    "bench",
	})
	if err != nil {
		cancel()
		logFile.Close()
		tb.Fatalf("gateway.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, nil) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Run returned %v; want nil after cancel", err)
			}
		case <-time.After(40 * time.Second):
			tb.Error("gateway did not stop within 40 s")
		}
		logFile.Close()
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		tb.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		tb.Fatal("gateway did not start within 30 s")
	}
	addrs := map[string]string{}
	for _, name := range []string{"https", "http", "ops"} {
		if a := srv.Addr(name); a != nil {
			addrs[name] = a.String()
		}
	}
	return &gw{Server: srv, base: baseURL(o, addrs), cfgFile: cfgFile, dir: dir, prefix: prefix}
}

// mint issues an access token the gateway accepts, for a user with the
// usual identity claims (so every identity header is set).
func (g *gw) mint(tb testing.TB, sid string) string {
	tb.Helper()
	cfg, err := gateway.Load(g.cfgFile)
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	issuer, err := tokens.New(cfg.Tokens, tokens.Options{})
	if err != nil {
		tb.Fatalf("NewTokens: %v", err)
	}
	tok, _, err := issuer.Issue("4711", tokens.IssueInput{
		SessionID: sid, Username: "alice", Email: "alice@example.com", Roles: []string{"dev", "user"},
	})
	if err != nil {
		tb.Fatalf("Issue: %v", err)
	}
	return tok
}

// testSecret is an HS256 secret that passes the secret rules, for
// benchmark and test configs only.
const testSecret = "bench-only-secret-7Hq2Wm9Xc4Lr1Pz8Nv5Tb0Yk3Jd6Gf"

// do sends one GET and drains the answer, failing unless it is 200.
func do(tb testing.TB, c *http.Client, req *http.Request) {
	res, err := c.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", req.URL, err)
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s = %d (%v); want 200", req.URL, res.StatusCode, err)
	}
}

// get builds a GET request for url with an optional bearer token.
func get(tb testing.TB, url, token string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// hostOf returns the host:port a service URL names, with its default port
// when it names none.
func hostOf(tb testing.TB, raw, defaultPort string) string {
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("parse %q: %v", raw, err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), defaultPort)
	}
	return u.Host
}

// viaHost returns raw with its host:port replaced by addr.
func viaHost(tb testing.TB, raw, addr string) string {
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("parse %q: %v", raw, err)
	}
	u.Host = addr
	return u.String()
}

// measureParallel warms client with one request from newReq (the token is
// then verified and cached), then sends requests from 64 goroutines (32
// per core on 2 cores, as wrk -c64), each reusing its own request from
// newReq once the answer is read, as wrk does. It reports allocations and
// returns ns/op and allocs/op.
func measureParallel(b *testing.B, client *http.Client, newReq func() *http.Request) (ns, allocs float64) {
	b.Helper()
	do(b, client, newReq())
	b.ReportAllocs()
	b.SetParallelism(32)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := newReq()
		for pb.Next() {
			do(b, client, req)
		}
	})
	b.StopTimer()
	runtime.ReadMemStats(&after)
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N), float64(after.Mallocs-before.Mallocs) / float64(b.N)
}
