package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/testenv"
)

// faRoutes are forward-auth routes on app.example.com (upstream none)
// beside a proxied route on localhost, the host the test clients name.
func faRoutes(backend string) string {
	return fmt.Sprintf(`  - {name: app-public, hosts: [app.example.com], path: /public, auth: public, upstream: none}
  - {name: app-admin, hosts: [app.example.com], path: /admin, auth: required, roles: [admin], upstream: none}
  - {name: app-read, hosts: [app.example.com], path: /read, methods: [GET], auth: public, upstream: none}
  - {name: app, hosts: [app.example.com], path: /, auth: required, upstream: none}
  - {name: proxied, hosts: [localhost], path: /, auth: required, upstream: %s}
`, backend)
}

const faHead = `trusted_proxies: [127.0.0.1/32]
forward_auth:
  login_url: https://auth.example.com/auth/login
identity_headers:
  assertion: X-Auth-Jwt
`

// faCheck sends a check to /auth/verify (plus suffix) with hdr; a "Host"
// entry sets the check's Host.
func (g *pGateway) faCheck(t *testing.T, suffix string, hdr map[string]string) pResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.base+"/auth/verify"+suffix, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := g.client1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return pResponse{resp, b.Bytes()}
}

func TestForwardAuthCheck(t *testing.T) {
	b := pStartBackend(t)
	gw, cfgFile := pConfig(t, faRoutes(b.URL()), faHead)
	pAddUser(t, cfgFile, accounts.NewUser{Username: "root", Email: "root@example.com", Password: "correct-horse-battery-root", Roles: []string{"admin"}})
	g := pStartGateway(t, gw, cfgFile)
	alice := g.register(t, "alice")
	tok := g.login(t, alice).AccessToken
	rootTok := g.login(t, pUser{Username: "root", Password: "correct-horse-battery-root"}).AccessToken
	revoked := g.login(t, alice).AccessToken
	g.logout(t, revoked)

	nginx := func(method, uri string, more ...string) map[string]string {
		h := map[string]string{"X-Original-URL": "https://app.example.com" + uri, "X-Original-Method": method}
		for i := 0; i+1 < len(more); i += 2 {
			h[more[i]] = more[i+1]
		}
		return h
	}
	traefik := func(method, uri string, more ...string) map[string]string {
		h := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": uri, "X-Forwarded-Method": method}
		for i := 0; i+1 < len(more); i += 2 {
			h[more[i]] = more[i+1]
		}
		return h
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	html := []string{"Accept", "text/html,application/xhtml+xml", "Sec-Fetch-Mode", "navigate"}
	login := "https://auth.example.com/auth/login?rd=" + url.QueryEscape("https://app.example.com/x?a=1")

	tests := []struct {
		name     string
		suffix   string
		hdr      map[string]string
		status   int
		identity string // the username the answer names; "" = no identity headers
		header   map[string]string
	}{
		{name: "ok-nginx-token", hdr: nginx("GET", "/x", bearer(tok)...), status: 200, identity: "alice"},
		{name: "ok-traefik-token-post", hdr: traefik("POST", "/x", bearer(tok)...), status: 200, identity: "alice"},
		{name: "ok-envoy-token", suffix: "/x", hdr: map[string]string{"Host": "app.example.com", "Authorization": "Bearer " + tok}, status: 200, identity: "alice"},
		{name: "ok-public-no-identity", hdr: nginx("GET", "/public/a", bearer(tok)...), status: 200},
		{name: "ok-public-no-token", hdr: traefik("GET", "/public"), status: 200},
		{name: "ok-role", hdr: nginx("DELETE", "/admin/x", bearer(rootTok)...), status: 200, identity: "root"},
		{name: "ok-read-get-public", hdr: traefik("GET", "/read"), status: 200},
		{name: "fail-read-post-is-not-get", hdr: traefik("POST", "/read"), status: 401},
		{name: "fail-role-403", hdr: nginx("GET", "/admin", bearer(tok)...), status: 403,
			header: map[string]string{"WWW-Authenticate": `Bearer realm="authgate", error="insufficient_scope"`}},
		{name: "fail-api-401", hdr: traefik("GET", "/x"), status: 401, header: map[string]string{"WWW-Authenticate": `Bearer realm="authgate"`}},
		{name: "fail-revoked-401", hdr: traefik("GET", "/x", bearer(revoked)...), status: 401},
		{name: "fail-malformed-token-401", hdr: traefik("GET", "/x", bearer("not.a.jwt")...), status: 401},
		{name: "fail-browser-nginx-401-location", hdr: nginx("GET", "/x?a=1", html...), status: 401, header: map[string]string{"Location": login}},
		{name: "fail-browser-traefik-302", hdr: traefik("GET", "/x?a=1", html...), status: 302, header: map[string]string{"Location": login}},
		{name: "fail-fetch-html-401-no-redirect", hdr: traefik("GET", "/x", "Accept", "text/html", "Sec-Fetch-Mode", "cors"), status: 401, header: map[string]string{"Location": ""}},
		{name: "fail-post-browser-401", hdr: traefik("POST", "/x", html...), status: 401, header: map[string]string{"Location": ""}},
		{name: "fail-both-styles", hdr: nginx("GET", "/public", "X-Forwarded-Uri", "/public"), status: 400},
		{name: "fail-no-method", hdr: map[string]string{"X-Original-URL": "https://app.example.com/public"}, status: 400},
		{name: "fail-methods-disagree", hdr: nginx("GET", "/public", "X-Forwarded-Method", "POST"), status: 400},
		{name: "fail-no-original", status: 400},
		{name: "fail-no-proto", hdr: map[string]string{"X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/public", "X-Forwarded-Method": "GET"}, status: 400},
		{name: "fail-bad-scheme", hdr: map[string]string{"X-Original-URL": "ftp://app.example.com/public", "X-Original-Method": "GET"}, status: 400},
		{name: "fail-bad-host", hdr: map[string]string{"X-Original-URL": "https://app.example.com%2e/public", "X-Original-Method": "GET"}, status: 400},
		{name: "fail-userinfo-host", hdr: map[string]string{"X-Original-URL": "https://app.example.com@evil.com/public", "X-Original-Method": "GET"}, status: 400},
		{name: "fail-bad-path", hdr: traefik("GET", "/public%2f..%2fadmin"), status: 400},
		{name: "fail-relative-uri", hdr: traefik("GET", "public"), status: 400},
		{name: "fail-no-route-403", hdr: map[string]string{"X-Original-URL": "https://other.example.com/", "X-Original-Method": "GET", "Authorization": "Bearer " + tok}, status: 403},
		// The auth API is not a route: a check of it is judged by the
		// routes like any path (the ingress sends it to authgate unchecked).
		{name: "fail-auth-path-judged-by-routes", hdr: nginx("GET", "/auth/login"), status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.count()
			resp := g.faCheck(t, tt.suffix, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("check %v = %d %s; want %d", tt.hdr, resp.StatusCode, resp.body, tt.status)
			}
			if resp.StatusCode != http.StatusOK && resp.Header.Get("Location") == "" {
				resp.checkProblem(t)
			}
			if got := resp.Header.Get("X-Auth-User"); got != tt.identity {
				t.Errorf("X-Auth-User = %q; want %q", got, tt.identity)
			}
			if jwt := resp.Header.Get("X-Auth-Jwt"); (jwt != "") != (tt.identity != "") {
				t.Errorf("X-Auth-Jwt = %q; want one exactly with an identity", jwt)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v && !(k == "WWW-Authenticate" && strings.HasPrefix(got, v)) {
					t.Errorf("%s = %q; want %q", k, got, v)
				}
			}
			if n := b.count() - before; n != 0 {
				t.Errorf("a check reached the backend %d times", n)
			}
		})
	}

	t.Run("fail-proxied-request-to-upstream-none", func(t *testing.T) {
		resp := g.rawRequest(t, "GET /x HTTP/1.1\r\nHost: app.example.com\r\nAuthorization: Bearer "+tok+"\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("a proxied request to an upstream: none route = %d; want 404", resp.StatusCode)
		}
	})
	t.Run("ok-proxied-route-checked-too", func(t *testing.T) {
		resp := g.faCheck(t, "", map[string]string{"X-Original-URL": "https://localhost/any", "X-Original-Method": "GET", "Authorization": "Bearer " + tok})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Auth-User") != "alice" {
			t.Errorf("check of a proxied route = %d %q; want 200 alice", resp.StatusCode, resp.Header.Get("X-Auth-User"))
		}
	})
}

// TestForwardAuthUntrusted: a check from a peer outside trusted_proxies is
// refused and logged, whatever it claims, and never judged (a valid token
// and a public path get the same 403).
func TestForwardAuthUntrusted(t *testing.T) {
	b := pStartBackend(t)
	var log logBuffer
	gw, cfgFile := pConfig(t, faRoutes(b.URL()), strings.Replace(faHead, "127.0.0.1/32", "192.0.2.10/32", 1))
	gw.logTo = &log
	g := pStartGateway(t, gw, cfgFile)
	tok := g.login(t, g.register(t, "alice")).AccessToken
	for _, hdr := range []map[string]string{
		{"X-Original-URL": "https://app.example.com/public", "X-Original-Method": "GET"},
		{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/x", "X-Forwarded-Method": "GET", "Authorization": "Bearer " + tok},
		{},
	} {
		resp := g.faCheck(t, "", hdr)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Auth-User") != "" {
			t.Errorf("untrusted check %v = %d %q; want 403 without identity", hdr, resp.StatusCode, resp.Header.Get("X-Auth-User"))
		}
		resp.checkProblem(t)
	}
	if n := strings.Count(log.String(), "forward-auth check refused"); n != 3 {
		t.Errorf("log has %d refused-check lines; want 3:\n%s", n, log.String())
	}
}

// TestForwardAuthPathSpellings sends every spelling of pathSpellings as
// the original request of a check, in the nginx and the Traefik style,
// and as the proxied request itself: the check must get the proxied
// request's decision, without a token and with one.
func TestForwardAuthPathSpellings(t *testing.T) {
	b := pStartBackend(t)
	routes := fmt.Sprintf(`  - {name: admin, path: /admin, auth: required, upstream: %[1]s}
  - {name: pub, path: /pub, auth: public, upstream: %[1]s}
  - {name: rest, path: /, auth: public, upstream: %[1]s}
`, b.URL())
	gw, cfgFile := pConfig(t, routes, "trusted_proxies: [127.0.0.1/32]\n")
	g := pStartGateway(t, gw, cfgFile)
	tok := g.login(t, g.register(t, "alice")).AccessToken
	for _, tt := range pathSpellings {
		if strings.HasPrefix(tt.target, "https://") {
			continue // the absolute form is a request line's; an ingress forwards the origin form
		}
		t.Run(tt.name, func(t *testing.T) {
			for _, auth := range []string{"", "Authorization: Bearer " + tok + "\r\n"} {
				proxied := g.rawRequest(t, "GET "+tt.target+" HTTP/1.1\r\nHost: "+g.host+"\r\n"+auth+"Connection: close\r\n\r\n").StatusCode
				for style, hdr := range map[string]string{
					"nginx":   "X-Original-URL: https://" + g.host + tt.target + "\r\nX-Original-Method: GET\r\n",
					"traefik": "X-Forwarded-Proto: https\r\nX-Forwarded-Host: " + g.host + "\r\nX-Forwarded-Uri: " + tt.target + "\r\nX-Forwarded-Method: GET\r\n",
				} {
					check := g.rawRequest(t, "GET /auth/verify HTTP/1.1\r\nHost: "+g.host+"\r\n"+hdr+auth+"Connection: close\r\n\r\n")
					if check.StatusCode != proxied {
						t.Errorf("%s check of %q (token %t) = %d %s; proxied = %d", style, tt.target, auth != "", check.StatusCode, check.body, proxied)
					}
				}
			}
		})
	}
}

func TestForwardAuthConfig(t *testing.T) {
	tests := []struct {
		name    string
		extra   string
		routes  string
		wantErr string // "" = loads
		want    []string
	}{
		{name: "ok-redirect-hosts-default", routes: "  - {hosts: [App.Example.com, '*.apps.example.com'], path: /, upstream: none}\n  - {hosts: [proxied.example.com], path: /, upstream: builtin:echo}\n",
			want: []string{"app.example.com", "*.apps.example.com"}},
		{name: "ok-redirect-hosts-given", extra: "forward_auth:\n  login_url: https://auth.example.com/auth/login\n  redirect_hosts: [x.example.com]\n",
			routes: "  - {hosts: [app.example.com], path: /, upstream: none}\n", want: []string{"x.example.com"}},
		{name: "fail-login-url-relative", extra: "forward_auth:\n  login_url: /auth/login\n", routes: "  - {path: /, upstream: none}\n",
			wantErr: "forward_auth.login_url"},
		{name: "fail-login-url-query", extra: "forward_auth:\n  login_url: https://auth.example.com/auth/login?x=1\n", routes: "  - {path: /, upstream: none}\n",
			wantErr: "forward_auth.login_url"},
		{name: "fail-redirect-host", extra: "forward_auth:\n  redirect_hosts: ['*']\n", routes: "  - {path: /, upstream: none}\n",
			wantErr: "forward_auth.redirect_hosts[0]"},
		{name: "fail-pool-named-none", extra: "upstreams:\n  none: {targets: [http://127.0.0.1:1]}\n", routes: "  - {path: /, upstream: none}\n",
			wantErr: "routes[0].upstream"},
		{name: "fail-cookie-domain", extra: "auth_api:\n  cookie_domain: .example.com\n", routes: "  - {path: /, upstream: none}\n",
			wantErr: "auth_api.cookie_domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cfgFile := pConfig(t, tt.routes, tt.extra)
			cfg, err := Load(cfgFile)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load = %v; want a problem at %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.ForwardAuth.RedirectHosts; !slices.Equal(got, tt.want) {
				t.Errorf("redirect_hosts = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestForwardAuthDenylistUnavailable: while the revocation list cannot be
// trusted (Redis cut off, on_error: deny), a check with a valid token
// answers 503, and a public path still 200; once Redis is back, 200.
func TestForwardAuthDenylistUnavailable(t *testing.T) {
	redisURL, prefix := testenv.RedisURL(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	gate := testenv.NewGate(t, u.Host)
	b := pStartBackend(t)
	gw, cfgFile := pConfig(t, faRoutes(b.URL()), faHead+fmt.Sprintf("redis:\n  url: redis://%s/0\n  on_error: deny\n  key_prefix: %q\n", gate.Addr(), prefix))
	g := pStartGateway(t, gw, cfgFile)
	tok := g.login(t, g.register(t, "alice")).AccessToken
	check := func(uri string) int {
		return g.faCheck(t, "", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com",
			"X-Forwarded-Uri": uri, "X-Forwarded-Method": "GET", "Authorization": "Bearer " + tok}).StatusCode
	}
	if got := check("/x"); got != http.StatusOK {
		t.Fatalf("check before the cut = %d; want 200", got)
	}
	gate.SetClosed(true)
	testenv.WaitFor(t, "the check to fail closed", func() bool { return check("/x") == http.StatusServiceUnavailable })
	if got := check("/public"); got != http.StatusOK {
		t.Errorf("check of a public path while Redis is cut off = %d; want 200", got)
	}
	gate.SetClosed(false)
	testenv.WaitFor(t, "the check to pass again", func() bool { return check("/x") == http.StatusOK })
}
