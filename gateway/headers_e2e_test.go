package gateway

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/tokens"
)

// What a client may try to smuggle past the gateway: its own identity
// headers in every spelling a backend might fold together (case, "_" for
// "-", repeated), the assertion header, forwarding and routing headers, and
// method overrides.
func forgedHeaders() http.Header {
	return http.Header{
		"X-Auth-User":            {"mallory"},
		"x-auth-user":            {"mallory-lower"},
		"X_Auth_User":            {"mallory-underscore"},
		"x_auth_user":            {"mallory-underscore-lower"},
		"X-AUTH-USER":            {"mallory-upper"},
		"X-Auth-User-Id":         {"0", "1"},
		"X_Auth_User_Id":         {"0"},
		"X-Auth-Email":           {"mallory@evil.test"},
		"x_auth_email":           {"mallory@evil.test"},
		"X-Auth-Roles":           {"admin"},
		"X_AUTH_ROLES":           {"admin,root"},
		"X-Auth-Jwt":             {"forged.assertion.jwt"},
		"x_auth_jwt":             {"forged.assertion.jwt"},
		"X-Forwarded-For":        {"203.0.113.7"},
		"X_Forwarded_For":        {"203.0.113.8"},
		"X-Forwarded-Host":       {"evil.test"},
		"X-Forwarded-Proto":      {"http"},
		"Forwarded":              {"for=203.0.113.7;proto=http"},
		"X-Real-IP":              {"203.0.113.7"},
		"X-Original-URL":         {"/admin"},
		"X-Rewrite-URL":          {"/admin"},
		"X-HTTP-Method-Override": {"DELETE"},
		"X-HTTP-Method":          {"DELETE"},
		"X-Method-Override":      {"DELETE"},
		"X_HTTP_Method_Override": {"DELETE"},
		"X-Request-Id":           {"client-chosen"},
		"Cookie":                 {"app=1; __Host-authgate=COOKIE; theme=dark; __Secure-authgate-refresh=R; __Host-authgate-csrf=C"},
	}
}

// normName is how CGI-style backends see a header name: case and "_"
// versus "-" do not matter.
func normName(k string) string { return strings.ReplaceAll(strings.ToLower(k), "_", "-") }

var identityNames = []string{"x-auth-user-id", "x-auth-user", "x-auth-email", "x-auth-roles", "x-auth-jwt"}

// checkReceived compares every header of the identity, forwarding and
// method-override families that the backend received with want (keys in
// canonical form): nothing else of those families may arrive, under any
// spelling.
func checkReceived(t *testing.T, got received, want map[string][]string) {
	t.Helper()
	managed := func(n string) bool {
		return slices.Contains(identityNames, n) || strings.HasPrefix(n, "x-forwarded-") ||
			strings.Contains(n, "method") || slices.Contains([]string{
			"forwarded", "x-real-ip", "x-original-url", "x-rewrite-url", "x-request-id", "authorization", "cookie",
		}, n)
	}
	for k, v := range got.Header {
		n := normName(k)
		if !managed(n) {
			continue
		}
		w, ok := want[k]
		if !ok {
			t.Errorf("backend received %s: %q; want no such header", k, v)
			continue
		}
		if n == "x-auth-jwt" {
			continue // checked by the caller: it is signed fresh
		}
		if !reflect.DeepEqual(v, w) {
			t.Errorf("backend received %s: %q; want %q", k, v, w)
		}
	}
	for k := range want {
		if _, ok := got.Header[k]; !ok {
			t.Errorf("backend received no %s; want %q", k, want[k])
		}
	}
}

// checkAssertion decodes the assertion JWT's claims (the signature is the
// authn package's business) and checks who it is about and for whom.
func checkAssertion(t *testing.T, jwt []string, sub, aud string) {
	t.Helper()
	if len(jwt) != 1 {
		t.Fatalf("backend received X-Auth-Jwt %q; want exactly one", jwt)
	}
	parts := strings.Split(jwt[0], ".")
	if len(parts) != 3 || jwt[0] == "forged.assertion.jwt" {
		t.Fatalf("X-Auth-Jwt = %q; want the gateway's signed assertion", jwt[0])
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("X-Auth-Jwt payload: %v", err)
	}
	var claims struct {
		Sub string   `json:"sub"`
		Aud []string `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("X-Auth-Jwt claims %s: %v", payload, err)
	}
	if claims.Sub != sub || !slices.Equal(claims.Aud, []string{aud}) {
		t.Errorf("X-Auth-Jwt sub=%q aud=%q; want sub=%q aud=[%q]", claims.Sub, claims.Aud, sub, aud)
	}
}

func headersConfig(b *backend, trusted string) string {
	return fmt.Sprintf(`trusted_proxies: [%s]
identity_headers:
  assertion: X-Auth-Jwt
routes:
  - name: public
    path: /public
    auth: public
    upstream: %[2]s
  - name: private
    path: /private
    auth: required
    upstream: %[2]s
  - name: forwarded
    path: /forward
    auth: required
    forward_token: true
    upstream: %[2]s
`, trusted, b.URL)
}

// TestIdentityHeadersEndToEnd sends every forged header through a running
// gateway, over HTTP/1.1 and HTTP/2, to a public and a protected route, and
// looks at what the backend received.
func TestIdentityHeadersEndToEnd(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		name := "untrusted-peer"
		if trusted {
			name = "trusted-proxy"
		}
		t.Run(name, func(t *testing.T) {
			b := newBackend(t, "app")
			g := newTestGateway(t)
			cidr := ""
			if trusted {
				cidr = "127.0.0.1/32"
			}
			cfgFile := g.write(headersConfig(b, cidr))
			g.run(cfgFile)
			token := mintToken(t, cfgFile, tokens.IssueInput{
				SessionID: "sid-1", Username: "alice", Email: "alice@example.com", Roles: []string{"dev", "ops"},
			}, "42")

			for _, h2 := range []bool{false, true} {
				proto := "http1.1"
				if h2 {
					proto = "h2"
				}
				c := g.client(h2)
				for _, route := range []string{"public", "private", "forwarded"} {
					t.Run("ok-"+proto+"-"+route, func(t *testing.T) {
						h := forgedHeaders()
						if route != "public" {
							h["Authorization"] = []string{"Bearer " + token}
							h["Cookie"] = []string{"app=1; __Host-authgate=" + token + "; theme=dark; __Secure-authgate-refresh=R; __Host-authgate-csrf=C"}
						}
						path := map[string]string{"public": "/public/x", "private": "/private/x", "forwarded": "/forward/x"}[route]
						res, body := get(t, c, g.url(path+"?q=1"), h)
						if res.StatusCode != http.StatusOK || body != "app" {
							t.Fatalf("GET %s = %d %q; want 200 from the backend", path, res.StatusCode, body)
						}
						if got := res.ProtoMajor; got != map[bool]int{false: 1, true: 2}[h2] {
							t.Fatalf("response over HTTP/%d; the test wants %s", got, proto)
						}
						got := b.last(t)
						if got.Method != http.MethodGet || got.RequestURI != path+"?q=1" {
							t.Errorf("backend received %s %s; want GET %s?q=1", got.Method, got.RequestURI, path)
						}
						want := map[string][]string{
							"X-Forwarded-For":   {"127.0.0.1"},
							"X-Forwarded-Host":  {g.httpsAddr()},
							"X-Forwarded-Proto": {"https"},
							"X-Request-Id":      {res.Header.Get("X-Request-Id")},
							"Cookie":            {"app=1; theme=dark"},
						}
						// A trusted proxy's request id is kept; anyone
						// else's is replaced.
						if rid := res.Header.Get("X-Request-Id"); (rid == "client-chosen") != trusted {
							t.Errorf("X-Request-Id = %q with a client sending %q (trusted peer: %t)", rid, "client-chosen", trusted)
						}
						if trusted {
							want["X-Forwarded-For"] = []string{"203.0.113.7, 127.0.0.1"}
							want["Forwarded"] = []string{"for=203.0.113.7;proto=http"}
							want["X-Real-Ip"] = []string{"203.0.113.7"}
							want["X-Original-Url"] = []string{"/admin"}
							want["X-Rewrite-Url"] = []string{"/admin"}
						}
						if route != "public" {
							want["X-Auth-User-Id"] = []string{"42"}
							want["X-Auth-User"] = []string{"alice"}
							want["X-Auth-Email"] = []string{"alice@example.com"}
							want["X-Auth-Roles"] = []string{"dev,ops"}
							want["X-Auth-Jwt"] = nil // checked below
							checkAssertion(t, got.Header["X-Auth-Jwt"], "42", route)
						}
						if route == "forwarded" {
							want["Authorization"] = []string{"Bearer " + token}
							want["Cookie"] = h["Cookie"]
						}
						checkReceived(t, got, want)
					})
				}
				// Trailers are headers too: a chunked HTTP/1.1 body or an
				// HTTP/2 stream can end with them.
				t.Run("ok-"+proto+"-trailers", func(t *testing.T) {
					req, err := http.NewRequest(http.MethodPost, g.url("/private/t"), io.MultiReader(strings.NewReader("body")))
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Authorization", "Bearer "+token)
					req.Trailer = http.Header{}
					for k, v := range forgedHeaders() {
						if k != "Cookie" {
							req.Trailer[k] = v
						}
					}
					req.Trailer["X-App-Trailer"] = []string{"kept?"}
					res, err := c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						t.Fatalf("POST with trailers = %d; want 200", res.StatusCode)
					}
					got := b.last(t)
					if got.Body != "body" {
						t.Errorf("backend body = %q; want %q", got.Body, "body")
					}
					for k, v := range got.Trailer {
						if n := normName(k); slices.Contains(identityNames, n) || strings.HasPrefix(n, "x-forwarded-") ||
							strings.Contains(n, "method") || n == "forwarded" || n == "x-real-ip" ||
							n == "x-original-url" || n == "x-rewrite-url" || n == "x-request-id" {
							t.Errorf("backend received trailer %s: %q; want none of the managed headers", k, v)
						}
					}
				})
			}

			// HTTP/1.1 only: HTTP/2 has no Connection header. A client
			// naming our headers in Connection must not make the proxy
			// drop them (RFC 9110 §7.6.1 hop-by-hop; Director's bug).
			t.Run("ok-connection-header-removes-nothing", func(t *testing.T) {
				h := http.Header{
					"Authorization": {"Bearer " + token},
					"Connection":    {"X-Auth-User, X-Auth-Roles, X-Forwarded-For", "X-Request-Id, X-Auth-Jwt, X-Forwarded-Proto"},
				}
				res, body := get(t, g.client(false), g.url("/private/y"), h)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("GET /private/y = %d %q; want 200", res.StatusCode, body)
				}
				got := b.last(t)
				want := map[string][]string{
					"X-Auth-User-Id":    {"42"},
					"X-Auth-User":       {"alice"},
					"X-Auth-Email":      {"alice@example.com"},
					"X-Auth-Roles":      {"dev,ops"},
					"X-Auth-Jwt":        nil,
					"X-Forwarded-For":   {"127.0.0.1"},
					"X-Forwarded-Host":  {g.httpsAddr()},
					"X-Forwarded-Proto": {"https"},
					"X-Request-Id":      {res.Header.Get("X-Request-Id")},
				}
				checkReceived(t, got, want)
				checkAssertion(t, got.Header["X-Auth-Jwt"], "42", "private")
			})

			// Without a token the protected route answers itself; the
			// forged identity gets nowhere.
			t.Run("fail-forged-identity-without-token", func(t *testing.T) {
				before := b.count()
				res, _ := get(t, g.client(false), g.url("/private/x"), forgedHeaders())
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("GET /private/x with forged headers only = %d; want 401", res.StatusCode)
				}
				if n := b.count(); n != before {
					t.Errorf("backend received %d requests; want none", n-before)
				}
			})
		})
	}
}
