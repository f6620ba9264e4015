package upstream

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// identityNames are the configured identity headers, normalised.
var identityNames = []string{"x-auth-user-id", "x-auth-user", "x-auth-email", "x-auth-roles", "x-auth-jwt"}

// spoofedIdentity is a request head carrying client-made identity headers
// in every spelling a backend might fold into the real one.
const spoofedIdentity = "X-Auth-User: mallory\r\n" +
	"x-auth-user: mallory-lower\r\n" +
	"X-AUTH-USER: mallory-upper\r\n" +
	"X-Auth-User: mallory-again\r\n" +
	"X_Auth_User: mallory-underscore\r\n" +
	"x_auth_user: mallory-underscore-lower\r\n" +
	"X-AUTH_USER: mallory-mixed\r\n" +
	"X-Auth-User-Id: 0\r\n" +
	"X_AUTH_USER_ID: 0\r\n" +
	"X-Auth-Email: root@evil.test\r\n" +
	"x_auth_email: root@evil.test\r\n" +
	"X-Auth-Roles: superuser\r\n" +
	"X_Auth_Roles: superuser\r\n" +
	"X-Auth-Jwt: forged\r\n" +
	"x_auth-JWT: forged\r\n"

func TestProxyIdentityHeaders(t *testing.T) {
	tests := []struct {
		name     string
		identity bool
		extra    string // more request head lines
		want     map[string][]string
	}{
		{
			name: "ok-public-route-drops-all",
		},
		{
			name:     "ok-protected-route-sets-ours",
			identity: true,
			want: map[string][]string{
				"X-Auth-User-Id": {"42"},
				"X-Auth-User":    {"alice"},
				"X-Auth-Email":   {"alice@example.com"},
				"X-Auth-Roles":   {"admin,dev"},
				"X-Auth-Jwt":     {"signed.assertion.jwt"},
			},
		},
		{
			// RFC 9110 §7.6.1: a client may name any header in
			// Connection; ReverseProxy drops those before Rewrite, so
			// nothing we set afterwards can be removed that way.
			name:     "ok-connection-header-removes-nothing-of-ours",
			identity: true,
			extra:    "Connection: X-Auth-User, X-Forwarded-For, X-Request-Id, X-Auth-Roles, X-Forwarded-Proto\r\n",
			want: map[string][]string{
				"X-Auth-User-Id":    {"42"},
				"X-Auth-User":       {"alice"},
				"X-Auth-Email":      {"alice@example.com"},
				"X-Auth-Roles":      {"admin,dev"},
				"X-Auth-Jwt":        {"signed.assertion.jwt"},
				"X-Forwarded-For":   {"127.0.0.1"},
				"X-Forwarded-Proto": {"https"},
				"X-Request-Id":      {"req-1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := recordingFrontend(t, func(f *Forward) {
				if tt.identity {
					f.Identity = testIdentity()
					f.Assertion = "signed.assertion.jwt"
				}
			})

			res, body := rawRequest(t, addr,
				"GET /x HTTP/1.1\r\nHost: app.example.com\r\n"+spoofedIdentity+tt.extra+"\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d; want 200 (%s)", res.StatusCode, body)
			}
			got := decodeReceived(t, body)
			for k, v := range got.Header {
				norm := normalizeName(k)
				if !slices.Contains(identityNames, norm) {
					continue
				}
				if want, ok := tt.want[k]; !ok || !reflect.DeepEqual(v, want) {
					t.Errorf("backend got %s: %q; want %q only under the canonical name", k, v, tt.want[http.CanonicalHeaderKey(norm)])
				}
			}
			for k, want := range tt.want {
				if !reflect.DeepEqual(got.Header[k], want) {
					t.Errorf("backend got %s = %q; want %q", k, got.Header[k], want)
				}
			}
		})
	}
}

func TestProxyForwardingHeaders(t *testing.T) {
	const spoof = "X-Forwarded-For: 6.6.6.6\r\n" +
		"X-Forwarded-Host: evil.test\r\n" +
		"X-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Port: 1\r\n" +
		"X-Forwarded-Prefix: /admin\r\n" +
		"X_Forwarded_For: 7.7.7.7\r\n" +
		"Forwarded: for=6.6.6.6;proto=http\r\n" +
		"X-Real-IP: 6.6.6.6\r\n" +
		"X-Original-URL: /admin\r\n" +
		"X-Rewrite-URL: /admin\r\n" +
		"X-HTTP-Method-Override: DELETE\r\n" +
		"X-HTTP-Method: DELETE\r\n" +
		"X-Method-Override: DELETE\r\n" +
		"X_HTTP_Method_Override: DELETE\r\n" +
		"X-Request-Id: client-chosen\r\n" +
		"X_Request_Id: client-chosen\r\n"

	tests := []struct {
		name    string
		trusted bool
		want    map[string][]string // every forwarding-family header the backend may see
	}{
		{
			name: "ok-untrusted-peer-spoofing-dropped",
			want: map[string][]string{
				"X-Forwarded-For":   {"127.0.0.1"},
				"X-Forwarded-Host":  {"app.example.com"},
				"X-Forwarded-Proto": {"https"},
				"X-Request-Id":      {"req-1"},
			},
		},
		{
			name:    "ok-trusted-peer-kept-and-appended",
			trusted: true,
			want: map[string][]string{
				"X-Forwarded-For":    {"6.6.6.6, 127.0.0.1"},
				"X-Forwarded-Host":   {"app.example.com"},
				"X-Forwarded-Proto":  {"https"},
				"X-Forwarded-Port":   {"1"},
				"X-Forwarded-Prefix": {"/admin"},
				"Forwarded":          {"for=6.6.6.6;proto=http"},
				"X-Real-Ip":          {"6.6.6.6"},
				"X-Original-Url":     {"/admin"},
				"X-Rewrite-Url":      {"/admin"},
				"X-Request-Id":       {"req-1"},
			},
		},
	}
	managed := func(k string) bool {
		n := normalizeName(k)
		return strings.HasPrefix(n, "x-forwarded-") || strings.Contains(n, "method") ||
			slices.Contains([]string{"forwarded", "x-real-ip", "x-original-url", "x-rewrite-url", "x-request-id"}, n)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := recordingFrontend(t, func(f *Forward) {
				f.Host = "app.example.com"
				f.TrustedPeer = tt.trusted
				if tt.trusted {
					f.ClientIP = netip.MustParseAddr("6.6.6.6")
				}
			})
			res, body := rawRequest(t, addr,
				"GET /x HTTP/1.1\r\nHost: app.example.com\r\n"+spoof+"\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d; want 200 (%s)", res.StatusCode, body)
			}
			got := decodeReceived(t, body)
			for k, v := range got.Header {
				if managed(k) && !reflect.DeepEqual(v, tt.want[k]) {
					t.Errorf("backend got %s: %q; want %q", k, v, tt.want[k])
				}
			}
			for k, want := range tt.want {
				if !reflect.DeepEqual(got.Header[k], want) {
					t.Errorf("backend got %s = %q; want %q", k, got.Header[k], want)
				}
			}
		})
	}
}

func TestProxyTokenAndCookies(t *testing.T) {
	const reqHead = "Authorization: Bearer access-token\r\n" +
		"Cookie: theme=dark; __Host-authgate=session; lang=en\r\n" +
		"Cookie: __Host-authgate-refresh=refresh\r\n" +
		"Cookie: __Host-authgate-other=app-owned\r\n"
	tests := []struct {
		name         string
		forwardToken bool
		wantAuth     []string
		wantCookie   []string
	}{
		{
			name:       "ok-default-strips-token-and-gateway-cookies",
			wantCookie: []string{"theme=dark; lang=en", "__Host-authgate-other=app-owned"},
		},
		{
			name:         "ok-forward-token-keeps-them",
			forwardToken: true,
			wantAuth:     []string{"Bearer access-token"},
			wantCookie:   []string{"theme=dark; __Host-authgate=session; lang=en", "__Host-authgate-refresh=refresh", "__Host-authgate-other=app-owned"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// The upstream tries to plant and to end the gateway's
				// session, and sets a cookie of its own.
				w.Header().Add("Set-Cookie", "__Host-authgate=planted; Path=/; Secure")
				w.Header().Add("Set-Cookie", "__Host-authgate-refresh=; Max-Age=0; Path=/; Secure")
				w.Header().Add("Set-Cookie", " __Host-authgate =spaced; Path=/")
				w.Header().Add("Set-Cookie", "__Host-authgate")
				w.Header().Add("Set-Cookie", "app=1; Path=/")
				w.Header().Add("Set-Cookie", "__Host-authgate-other=2; Path=/; Secure")
				recordingHandler("b")(w, r)
			}))
			u, _ := newTestUpstreams(t, testConfig(), nil)
			h := mustHandler(t, u, back.URL, Route{Name: "app", ForwardToken: tt.forwardToken})
			front := newFrontend(t, h, gatewayForward)
			res, body := rawRequest(t, front.Listener.Addr().String(),
				"GET /x HTTP/1.1\r\nHost: app.example.com\r\n"+reqHead+"\r\n")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d; want 200 (%s)", res.StatusCode, body)
			}
			got := decodeReceived(t, body)
			if a := got.Header["Authorization"]; !reflect.DeepEqual(a, tt.wantAuth) {
				t.Errorf("backend got Authorization %q; want %q", a, tt.wantAuth)
			}
			if c := got.Header["Cookie"]; !reflect.DeepEqual(c, tt.wantCookie) {
				t.Errorf("backend got Cookie %q; want %q", c, tt.wantCookie)
			}
			wantSet := []string{"app=1; Path=/", "__Host-authgate-other=2; Path=/; Secure"}
			if sc := res.Header["Set-Cookie"]; !reflect.DeepEqual(sc, wantSet) {
				t.Errorf("client got Set-Cookie %q; want %q", sc, wantSet)
			}
		})
	}
}

func TestProxyPath(t *testing.T) {
	tests := []struct {
		name     string
		target   string // path appended to the backend URL
		reqURL   string // as the client sent it
		fwdPath  string // the gateway's canonical path, minus a stripped prefix
		wantURI  string
		wantHost bool
	}{
		{name: "ok-plain", reqURL: "/a/b?x=1", fwdPath: "/a/b", wantURI: "/a/b?x=1"},
		{name: "ok-forward-path-wins-over-request", reqURL: "/public/..%2fadmin", fwdPath: "/admin", wantURI: "/admin"},
		{name: "ok-space-escaped-once", reqURL: "/a%20b", fwdPath: "/a b", wantURI: "/a%20b"},
		{name: "ok-percent-escaped-once", reqURL: "/a%252Fb", fwdPath: "/a%2Fb", wantURI: "/a%252Fb"},
		{name: "ok-utf8", reqURL: "/caf%C3%A9", fwdPath: "/café", wantURI: "/caf%C3%A9"},
		{name: "ok-query-as-sent", reqURL: "/q?b=2&a=1;c=%zz&&d", fwdPath: "/q", wantURI: "/q?b=2&a=1;c=%zz&&d"},
		{name: "ok-target-base-path", target: "/base/", reqURL: "/x%20y", fwdPath: "/x y", wantURI: "/base/x%20y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back := newBackend(t, recordingHandler("b"))
			u, el := newTestUpstreams(t, testConfig(), nil)
			h := mustHandler(t, u, back.URL+tt.target, Route{Name: "app"})
			req := httptest.NewRequest(http.MethodGet, "http://app.example.com"+tt.reqURL, nil)
			w := httptest.NewRecorder()
			h.Serve(w, req, &Forward{Path: tt.fwdPath})
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, error %v; want 200", w.Code, el.last())
			}
			got := decodeReceived(t, w.Body.Bytes())
			if got.RequestURI != tt.wantURI {
				t.Errorf("Forward.Path %q: backend got %q; want %q", tt.fwdPath, got.RequestURI, tt.wantURI)
			}
			if want := strings.TrimPrefix(back.URL, "http://"); got.Host != want {
				t.Errorf("backend got Host %q; want the target's %q", got.Host, want)
			}
		})
	}
}

func TestHeaderPlanRejects(t *testing.T) {
	tests := []struct {
		name    string
		cfg     IdentityHeaders
		wantErr string
	}{
		{name: "ok-defaults", cfg: testConfig().IdentityHeaders},
		{name: "ok-all-off", cfg: IdentityHeaders{}},
		{name: "ok-oauth2-proxy-names", cfg: IdentityHeaders{Username: "X-Forwarded-User", Email: "X-Forwarded-Email"}},
		{name: "fail-underscore", cfg: IdentityHeaders{Username: "X_Auth_User"}, wantErr: `identity_headers.username: "X_Auth_User" is not a valid header name: use letters, digits and - (RFC 9110 §5.1)`},
		{name: "fail-space", cfg: IdentityHeaders{Email: "X Auth"}, wantErr: `identity_headers.email: "X Auth" is not a valid header name: use letters, digits and - (RFC 9110 §5.1)`},
		{name: "fail-reserved", cfg: IdentityHeaders{Roles: "Cookie"}, wantErr: `identity_headers.roles: "Cookie" is reserved: the proxy or HTTP itself sets it; pick an X-Auth-… name`},
		{name: "fail-managed", cfg: IdentityHeaders{UserID: "x-forwarded-for"}, wantErr: `identity_headers.user_id: "x-forwarded-for" is reserved: the proxy or HTTP itself sets it; pick an X-Auth-… name`},
		{name: "fail-authorization", cfg: IdentityHeaders{Assertion: "Authorization"}, wantErr: `identity_headers.assertion: "Authorization" is reserved: the proxy or HTTP itself sets it; pick an X-Auth-… name`},
		{name: "fail-duplicate", cfg: IdentityHeaders{Username: "X-User", Email: "x-user"}, wantErr: `identity_headers.email: "x-user" is the same header as identity_headers.username`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The plan is built only from names validation accepted: New
			// refuses these with the loader's own words.
			_, err := New(Config{IdentityHeaders: tt.cfg}, Options{ErrorWriter: (&errLog{}).write})
			if gotErr := errString(err); gotErr != tt.wantErr {
				t.Errorf("New(identity headers %+v) = %q; want %q", tt.cfg, gotErr, tt.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
