package deploy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

// ingressUnderTest is nginx or Caddy running its shipped config in front of
// a forwardAuthRig.
type ingressUnderTest struct {
	name   string // "nginx" or "caddy"
	scheme string // how clients reach it
	port   int
	client *http.Client
	// original returns the URL of the request to judge that the ingress
	// hands authgate for a request to path on the app host.
	original func(path string) string
}

// startNginxIngress runs deploy/forward-auth/nginx/authgate.conf.
func startNginxIngress(t *testing.T, rig *forwardAuthRig) *ingressUnderTest {
	t.Helper()
	cert, key, roots := tlsFiles(t, t.TempDir(), "app.example.com", "auth.example.com")
	conf := shipped(t, "nginx/authgate.conf",
		"listen 443 ssl", "listen 127.0.0.1:{{.Port}} ssl",
		"server authgate:8080;", "server "+rig.authgate.Listener.Addr().String()+";",
		"server app:3000;", "server "+rig.app.Listener.Addr().String()+";",
		"/etc/nginx/tls/example.com.crt", cert,
		"/etc/nginx/tls/example.com.key", key,
	)
	n := testenv.StartNginx(t, conf, nil)
	return &ingressUnderTest{
		name: "nginx", scheme: "https", port: n.Port, client: rig.client(n.Addr, roots),
		original: func(path string) string { return "https://app.example.com:" + strconv.Itoa(n.Port) + path },
	}
}

// startCaddyIngress runs deploy/forward-auth/caddy/Caddyfile, its sites on
// plain HTTP (automatic HTTPS would need a CA).
func startCaddyIngress(t *testing.T, rig *forwardAuthRig) *ingressUnderTest {
	t.Helper()
	conf := shipped(t, "caddy/Caddyfile",
		"\nauth.example.com {", "\nhttp://auth.example.com:{{.Port}} {",
		"\napp.example.com {", "\nhttp://app.example.com:{{.Port}} {",
		"authgate:8080", rig.authgate.Listener.Addr().String(),
		"app:3000", rig.app.Listener.Addr().String(),
	)
	c := testenv.StartCaddy(t, conf, nil)
	return &ingressUnderTest{
		name: "caddy", scheme: "http", port: c.Port, client: rig.client(c.Addr, nil),
		original: func(path string) string { return "http://app.example.com:" + strconv.Itoa(c.Port) + path },
	}
}

func (in *ingressUnderTest) url(host, path string) string {
	return in.scheme + "://" + host + ":" + strconv.Itoa(in.port) + path
}

// forged is what every client request below carries besides its
// credentials: identity headers in two spellings, and a claim that the
// request is for pathOK. An ingress that passed any of it on would let
// the refused cases through.
var forged = map[string]string{
	"X-Auth-User":        "mallory",
	"X-Auth-User-Id":     "u-666",
	"X_Auth_Roles":       "admin",
	"X-Auth-Jwt":         "forged",
	"X-Original-URL":     "https://app.example.com/ok",
	"X-Original-Method":  "GET",
	"X-Forwarded-Uri":    pathOK,
	"X-Forwarded-Host":   "app.example.com",
	"X-Forwarded-Method": "GET",
	"X-Forwarded-For":    "203.0.113.66",
}

// do sends a browser-like request with forged headers and credentials.
func (in *ingressUnderTest) do(t *testing.T, method, rawURL, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range forged {
		req.Header[k] = []string{v} // as spelled: X_Auth_Roles stays so
	}
	req.Header.Set("Cookie", "__Secure-authgate=session-cookie")
	req.Header.Set("Authorization", "Bearer client-token")
	req.Header.Set("Accept", "text/html")
	resp, err := in.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s through %s: %v", method, rawURL, in.name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestForwardAuthIngresses runs the shipped nginx and Caddy configs in the
// real servers against the stub: what the client gets, what the check
// carries, and what reaches the app.
func TestForwardAuthIngresses(t *testing.T) {
	for _, ingress := range []struct {
		name  string
		start func(*testing.T, *forwardAuthRig) *ingressUnderTest
	}{{"nginx", startNginxIngress}, {"caddy", startCaddyIngress}} {
		t.Run(ingress.name, func(t *testing.T) {
			rig := newForwardAuthRig(t)
			in := ingress.start(t, rig)
			testAppHost(t, rig, in)
			testAuthHost(t, rig, in)
		})
	}
}

func testAppHost(t *testing.T, rig *forwardAuthRig, in *ingressUnderTest) {
	tests := []struct {
		name, method, path, body string
		status                   int               // what the client gets
		nginxStatus              int               // when nginx differs
		header                   map[string]string // response headers the client must get
		identity                 bool              // the app sees the stub's identity headers
	}{
		{name: "ok-identity-replaces-forged", method: "GET", path: pathOK + "?a=1&b=%2F", status: 200, identity: true},
		{name: "ok-post-body-to-app-only", method: "POST", path: pathOK, body: "payload", status: 200, identity: true},
		{name: "ok-public-no-identity", method: "GET", path: pathPublic, status: 200},
		{
			name: "fail-browser-to-login", method: "GET", path: pathLogin + "?x=1", status: 302,
			header: map[string]string{"Location": stubLoginURL + "?rd=" + url.QueryEscape(in.original(pathLogin+"?x=1"))},
		},
		{name: "fail-api-401", method: "GET", path: pathAPI, status: 401, header: map[string]string{"WWW-Authenticate": stubChallenge}},
		{name: "fail-role-403", method: "DELETE", path: pathForbidden, status: 403, header: map[string]string{"WWW-Authenticate": stubForbidden}},
		// auth_request passes on only 2xx/401/403; anything else is a 500.
		{name: "fail-denylist-503", method: "GET", path: pathUnavailable, status: 503, nginxStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig.stub.checks.take()
			rig.backend.take()
			resp := in.do(t, tt.method, in.url("app.example.com", tt.path), tt.body)
			want := tt.status
			if in.name == "nginx" && tt.nginxStatus != 0 {
				want = tt.nginxStatus
			}
			if resp.StatusCode != want {
				t.Errorf("%s %s: status %d; want %d", tt.method, tt.path, resp.StatusCode, want)
			}
			for k, v := range tt.header {
				if got := resp.Header.Values(k); !slices.Equal(got, []string{v}) {
					t.Errorf("%s %s: %s %q; want exactly %q", tt.method, tt.path, k, got, v)
				}
			}
			checks := rig.stub.checks.take()
			if len(checks) != 1 {
				t.Fatalf("%s %s: authgate was asked %d times; want once", tt.method, tt.path, len(checks))
			}
			checkCarries(t, in, checks[0], tt.method, tt.path)
			apps := rig.backend.take()
			if tt.status != http.StatusOK {
				if len(apps) != 0 {
					t.Errorf("%s %s: refused (%d), yet the app received %d requests", tt.method, tt.path, resp.StatusCode, len(apps))
				}
				return
			}
			if len(apps) != 1 {
				t.Fatalf("%s %s: the app received %d requests; want 1", tt.method, tt.path, len(apps))
			}
			appSees(t, rig.cfg, apps[0], tt.method, tt.path, tt.body, tt.identity)
		})
	}
}

// checkCarries asserts what the check request to authgate holds: the
// client's credentials, the original request in the ingress's style, none
// of the client's forged claims, no body.
func checkCarries(t *testing.T, in *ingressUnderTest, c seen, method, path string) {
	t.Helper()
	if got := c.Header.Get("Cookie"); got != "__Secure-authgate=session-cookie" {
		t.Errorf("check: Cookie %q; want the client's", got)
	}
	if got := c.Header.Get("Authorization"); got != "Bearer client-token" {
		t.Errorf("check: Authorization %q; want the client's", got)
	}
	if c.Body != "" {
		t.Errorf("check: body %q; want none", c.Body)
	}
	if got := c.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("check: X-Forwarded-For %q; want the peer's address only", got)
	}
	switch in.name {
	case "nginx": // X-Original-URL and -Method, set by nginx; a subrequest is a GET
		if got := c.Header.Get("X-Original-URL"); got != in.original(path) {
			t.Errorf("check: X-Original-URL %q; want %q", got, in.original(path))
		}
		if got := c.Header.Get("X-Original-Method"); got != method || c.Method != http.MethodGet {
			t.Errorf("check: %s with X-Original-Method %q; want GET with %s", c.Method, got, method)
		}
		for _, h := range []string{"X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Method"} {
			if got := c.Header.Values(h); len(got) != 0 {
				t.Errorf("check: %s %q reached authgate; nginx must clear it", h, got)
			}
		}
	case "caddy": // a GET with X-Forwarded-*, built by Caddy
		orig, err := url.Parse(in.original(path))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Proto": orig.Scheme,
			"X-Forwarded-Host": orig.Host, "X-Forwarded-Uri": orig.RequestURI()}
		for h, w := range want {
			if got := c.Header.Values(h); !slices.Equal(got, []string{w}) {
				t.Errorf("check: %s %q; want %q", h, got, w)
			}
		}
		if c.Method != http.MethodGet {
			t.Errorf("check: method %s; want GET", c.Method)
		}
		if got := c.Header.Values("X-Original-URL"); len(got) != 0 {
			t.Errorf("check: the client's X-Original-URL %q reached authgate, which reads it first", got)
		}
	}
}

// appSees asserts what reached the app: the request as sent, authgate's
// identity headers (or none on a public route) and no client copy of any.
func appSees(t *testing.T, cfg faConfig, a seen, method, path, body string, identity bool) {
	t.Helper()
	if a.Method != method || a.URI != path || a.Body != body {
		t.Errorf("app got %s %s %q; want %s %s %q", a.Method, a.URI, a.Body, method, path, body)
	}
	for i, h := range cfg.headers {
		var want []string
		if identity {
			want = []string{identityValues[i]}
		}
		if got := a.Header.Values(h); !slices.Equal(got, want) {
			t.Errorf("app got %s %q; want %q", h, got, want)
		}
	}
	for k, v := range a.Header {
		lk := strings.ToLower(k)
		known := slices.ContainsFunc(cfg.headers, func(h string) bool { return strings.EqualFold(h, k) })
		if (strings.HasPrefix(lk, "x-auth") || strings.HasPrefix(lk, "x_auth")) && !known {
			t.Errorf("app got the client's %s: %q", k, v)
		}
	}
}

// testAuthHost covers auth.example.com: the auth API is proxied without
// the client's claims, and /auth/verify is not reachable from outside.
func testAuthHost(t *testing.T, rig *forwardAuthRig, in *ingressUnderTest) {
	t.Run("ok-login-page-proxied", func(t *testing.T) {
		rig.stub.api.take()
		resp := in.do(t, "GET", in.url("auth.example.com", "/auth/login?rd=x"), "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /auth/login: %d; want 200", resp.StatusCode)
		}
		api := rig.stub.api.take()
		if len(api) != 1 {
			t.Fatalf("authgate's API got %d requests; want 1", len(api))
		}
		for _, h := range []string{"X-Original-URL", "X-Original-Method"} {
			if got := api[0].Header.Values(h); len(got) != 0 {
				t.Errorf("authgate's API got the client's %s %q", h, got)
			}
		}
		if got := api[0].Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("authgate's API got X-Forwarded-For %q; want the peer's address only", got)
		}
	})
	t.Run("fail-verify-from-outside", func(t *testing.T) {
		rig.stub.checks.take()
		rig.stub.api.take()
		for _, p := range []string{rig.cfg.verifyPath, rig.cfg.verifyPath + "/ok"} {
			if resp := in.do(t, "GET", in.url("auth.example.com", p), ""); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s on the auth host: %d; want 404", p, resp.StatusCode)
			}
		}
		if n := len(rig.stub.checks.take()) + len(rig.stub.api.take()); n != 0 {
			t.Errorf("a client's /auth/verify reached authgate (%d requests)", n)
		}
	})
}

// TestNginxHostChecked holds nginx to building the checked URL from the
// host it chose its server by: a Host header naming another site, whether
// beside a TLS name or an absolute request line, must not be what
// authgate judges.
func TestNginxHostChecked(t *testing.T) {
	rig := newForwardAuthRig(t)
	in := startNginxIngress(t, rig)
	roots := in.client.Transport.(*http.Transport).TLSClientConfig.RootCAs

	// SNI app.example.com, Host other.example.com: nginx's default server
	// closes the connection.
	req, err := http.NewRequest("GET", in.url("app.example.com", pathOK), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "other.example.com"
	if resp, err := in.client.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("Host other.example.com on app.example.com's TLS connection: %d; want the connection closed", resp.StatusCode)
	}
	// An unknown TLS name: the handshake is refused.
	if resp, err := in.client.Get(in.url("other.example.com", pathOK)); err == nil {
		resp.Body.Close()
		t.Errorf("TLS name other.example.com: %d; want the handshake refused", resp.StatusCode)
	}

	// An absolute request line wins over the Host header (RFC 9112
	// §3.2.2), for nginx's server choice and so for the checked URL.
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(in.port), &tls.Config{ServerName: "app.example.com", RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET "+in.url("app.example.com", pathAPI)+" HTTP/1.1\r\nHost: public.example.com\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("absolute request line for %s with Host public.example.com: %d; want 401", pathAPI, resp.StatusCode)
	}
	// One check in all: the two refused connections above asked nothing.
	checks := rig.stub.checks.take()
	if len(checks) != 1 || checks[0].Header.Get("X-Original-URL") != in.original(pathAPI) {
		t.Errorf("checks %v; want one, for %s", checks, in.original(pathAPI))
	}
	if n := len(rig.backend.take()); n != 0 {
		t.Errorf("the app received %d requests; want none", n)
	}
}
