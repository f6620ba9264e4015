package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/gateway"
	"github.com/authgate/authgate/internal/testenv"
)

// The shipped nginx and Caddy configs in front of a real authgate running
// the shipped forward-auth/config.yaml (addresses, ports, database,
// secret and the tests' bcrypt cost changed only): a browser signs in and
// comes back, tokens pass with authgate's identity, roles and revocations
// hold, and a client talking to authgate directly is refused.

const realSecret = "forward-auth-e2e-secret-0123456789abcdef0123456789"

// authRelay is authgate's address for the ingress before authgate is up:
// the ingress must be started first (its port goes into login_url), and
// must name authgate's address in its config. It copies bytes only, so
// authgate sees the ingress's requests as sent, from 127.0.0.1.
type authRelay struct {
	ln     net.Listener
	target atomic.Pointer[string]
}

func newAuthRelay(t *testing.T) *authRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &authRelay{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.relay(c)
		}
	}()
	return r
}

func (r *authRelay) relay(c net.Conn) {
	defer c.Close()
	target := r.target.Load()
	if target == nil {
		return
	}
	u, err := net.Dial("tcp", *target)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, u); done <- struct{}{} }()
	<-done
	<-done
}

func (r *authRelay) addr() string { return r.ln.Addr().String() }

// realAuthgate is authgate running config.yaml in this process.
type realAuthgate struct {
	addr string
	cfg  string
}

// startRealAuthgate runs forward-auth/config.yaml with loginURL, authgate
// listening on 127.0.0.1 and believing only 127.0.0.1 (the ingress), with
// the assertion header on, and users alice (no role) and root (admin).
func startRealAuthgate(t *testing.T, relay *authRelay, loginURL string) *realAuthgate {
	t.Helper()
	dir := t.TempDir()
	text := shipped(t, "config.yaml",
		`http: ":8080"`, `http: "127.0.0.1:0"`,
		`ops: ":9090"`, `ops: ""`,
		"trusted_proxies: [192.0.2.10/32]", "trusted_proxies: [127.0.0.1/32]",
		// The tests' usual allowance on a loaded machine: password
		// hashing under -race beside every other test.
		"${AUTHGATE_DATABASE_URL}", "sqlite:"+filepath.Join(dir, "authgate.db")+"\n  timeout: 1m",
		"${AUTHGATE_REDIS_URL:-}", `""`,
		"${AUTHGATE_SECRET_KEY}", realSecret,
		"login_url: https://auth.example.com/auth/login", "login_url: "+loginURL,
		"# assertion: X-Auth-Jwt", "assertion: X-Auth-Jwt",
	)
	text += "\naccounts:\n  bcrypt_cost: 10\n" // the lowest allowed: tests hash often
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := gateway.Load(cfgFile)
	if err != nil {
		t.Fatalf("the shipped config.yaml, staged: %v", err)
	}
	ctx := context.Background()
	admin, err := gateway.OpenAccounts(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []accounts.NewUser{
		{Username: "alice", Email: "alice@example.com", Password: "correct-horse-alice"},
		{Username: "root", Email: "root@example.com", Password: "correct-horse-root", Roles: []string{"admin"}},
	} {
		if _, err := admin.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	admin.Close()
	srv, err := gateway.NewFromConfig(ctx, cfg, gateway.Options{ConfigPath: cfgFile})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(runCtx, nil) }()
	t.Cleanup(func() {
		stop()
		if err := <-errc; err != nil {
			t.Errorf("authgate: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-errc:
		t.Fatalf("authgate did not start: %v", err)
	}
	a := &realAuthgate{addr: srv.Addr("http").String(), cfg: cfgFile}
	relay.target.Store(&a.addr)
	return a
}

// realIngress is nginx or Caddy with the shipped config in front of a
// real authgate.
type realIngress struct {
	*ingressUnderTest
	authgate *realAuthgate
	backend  *recorder
}

func startRealNginx(t *testing.T) (*realIngress, string) {
	t.Helper()
	rig := newForwardAuthRig(t)
	relay := newAuthRelay(t)
	dir := t.TempDir()
	cert, key, roots := tlsFiles(t, dir, "app.example.com", "auth.example.com")
	conf := shipped(t, "nginx/authgate.conf",
		"listen 443 ssl", "listen 127.0.0.1:{{.Port}} ssl",
		"server authgate:8080;", "server "+relay.addr()+";",
		"server app:3000;", "server "+rig.app.Listener.Addr().String()+";",
		"/etc/nginx/tls/example.com.crt", cert,
		"/etc/nginx/tls/example.com.key", key,
	)
	n := testenv.StartNginx(t, conf, nil)
	port := strconv.Itoa(n.Port)
	in := &ingressUnderTest{name: "nginx", scheme: "https", port: n.Port, client: rig.client(n.Addr, roots)}
	ag := startRealAuthgate(t, relay, "https://auth.example.com:"+port+"/auth/login")
	return &realIngress{ingressUnderTest: in, authgate: ag, backend: &rig.backend}, cert
}

func startRealCaddy(t *testing.T) (*realIngress, string) {
	t.Helper()
	rig := newForwardAuthRig(t)
	relay := newAuthRelay(t)
	// HTTPS with a certificate of the test's: authgate's cookies are
	// Secure, and the browser keeps them only from https origins.
	cert, key, roots := tlsFiles(t, t.TempDir(), "app.example.com", "auth.example.com")
	conf := shipped(t, "caddy/Caddyfile",
		"\nauth.example.com {", "\nhttps://auth.example.com:{{.Port}} {\n\ttls "+cert+" "+key,
		"\napp.example.com {", "\nhttps://app.example.com:{{.Port}} {\n\ttls "+cert+" "+key,
		"authgate:8080", relay.addr(),
		"app:3000", rig.app.Listener.Addr().String(),
	)
	c := testenv.StartCaddy(t, conf, nil)
	in := &ingressUnderTest{name: "caddy", scheme: "https", port: c.Port, client: rig.client(c.Addr, roots)}
	ag := startRealAuthgate(t, relay, "https://auth.example.com:"+strconv.Itoa(c.Port)+"/auth/login")
	return &realIngress{ingressUnderTest: in, authgate: ag, backend: &rig.backend}, cert
}

// login gets an access token through the ingress's auth host.
func (in *realIngress) login(t *testing.T, user, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := in.client.Post(in.url("auth.example.com", "/auth/login"), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /auth/login %s through %s: %d %v", user, in.name, resp.StatusCode, err)
	}
	return tok.AccessToken
}

func (in *realIngress) logout(t *testing.T, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.url("auth.example.com", "/auth/logout"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /auth/logout through %s: %d", in.name, resp.StatusCode)
	}
}

// get sends a request for path on the app host with the forged headers
// of the stub tests and, when token is set, a bearer token.
func (in *realIngress) get(t *testing.T, method, path, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, in.url("app.example.com", path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range forged {
		req.Header[k] = []string{v}
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestForwardAuthRealAuthgate(t *testing.T) {
	t.Run("nginx", func(t *testing.T) {
		in, cert := startRealNginx(t)
		testRealAuthgate(t, in)
		t.Run("ok-browser-login-round-trip", func(t *testing.T) { testBrowserRoundTrip(t, in, cert) })
	})
	t.Run("caddy", func(t *testing.T) {
		in, cert := startRealCaddy(t)
		testRealAuthgate(t, in)
		t.Run("ok-browser-login-round-trip", func(t *testing.T) { testBrowserRoundTrip(t, in, cert) })
	})
}

func testRealAuthgate(t *testing.T, in *realIngress) {
	alice := in.login(t, "alice", "correct-horse-alice")
	root := in.login(t, "root", "correct-horse-root")
	revoked := in.login(t, "alice", "correct-horse-alice")
	in.logout(t, revoked)

	tests := []struct {
		name, method, path, token string
		status                    int
		user                      string // X-Auth-User the app sees; "" = none reaches it
	}{
		{"ok-token-identity-not-forged", "GET", "/page?x=1", alice, 200, "alice"},
		{"ok-post-token", "POST", "/page", alice, 200, "alice"},
		{"ok-public-no-identity", "GET", "/public/a", "", 200, ""},
		{"ok-role", "DELETE", "/admin/x", root, 200, "root"},
		{"fail-role-403", "GET", "/admin", alice, 403, ""},
		{"fail-revoked-401", "GET", "/page", revoked, 401, ""},
		{"fail-no-token-api-401", "GET", "/page", "", 401, ""},
		{"fail-bad-path-400", "GET", "/public/..%2fadmin", root, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in.backend.take()
			resp := in.get(t, tt.method, tt.path, tt.token)
			want := tt.status
			if in.name == "nginx" && want == 400 {
				want = 500 // auth_request passes on only 2xx, 401 and 403
			}
			if resp.StatusCode != want {
				t.Fatalf("%s %s through %s: %d; want %d", tt.method, tt.path, in.name, resp.StatusCode, want)
			}
			apps := in.backend.take()
			if tt.status != 200 {
				if len(apps) != 0 {
					t.Errorf("refused, yet the app got %d requests", len(apps))
				}
				return
			}
			if len(apps) != 1 {
				t.Fatalf("the app got %d requests; want 1", len(apps))
			}
			h := apps[0].Header
			if got := h.Get("X-Auth-User"); got != tt.user {
				t.Errorf("the app got X-Auth-User %q; want %q", got, tt.user)
			}
			if jwt := h.Get("X-Auth-Jwt"); (jwt != "") != (tt.user != "") || jwt == forged["X-Auth-Jwt"] {
				t.Errorf("the app got X-Auth-Jwt %q; want authgate's exactly with an identity", jwt)
			}
			if id := h.Get("X-Auth-User-Id"); id == forged["X-Auth-User-Id"] || h.Get("X_Auth_Roles") != "" {
				t.Errorf("the app got a forged identity header: %v", h)
			}
		})
	}

	t.Run("fail-direct-spoof", func(t *testing.T) {
		// From 127.0.0.2, not the ingress's 127.0.0.1: the check is refused
		// unjudged, even for a public path with a valid token.
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
		c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 30 * time.Second}
		for _, hdr := range []map[string]string{
			{"X-Original-URL": "https://app.example.com/public", "X-Original-Method": "GET"},
			{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/page", "X-Forwarded-Method": "GET"},
		} {
			req, _ := http.NewRequest("GET", "http://"+in.authgate.addr+"/auth/verify", nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			req.Header.Set("Authorization", "Bearer "+alice)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Auth-User") != "" {
				t.Errorf("a direct check %v: %d %q; want 403 without identity", hdr, resp.StatusCode, resp.Header.Get("X-Auth-User"))
			}
		}
	})
}
