package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/tokens"
)

// hygieneConfig serves app.example.com only, so that any other Host is
// foreign to the redirect.
func hygieneConfig(upstream string) string {
	return fmt.Sprintf(`routes:
  - name: app
    hosts: [app.example.com]
    path: /
    auth: required
    upstream: %[1]s
  - name: pub
    hosts: [app.example.com]
    path: /pub
    auth: public
    upstream: %[1]s
`, upstream)
}

// TestServerHygiene checks what every answer of the listeners carries and
// where each kind of request is served.
func TestServerHygiene(t *testing.T) {
	// The backend tries to switch HSTS off for the gateway's host.
	// It also echoes X-Request-Id, as many frameworks do.
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=0")
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
		io.WriteString(w, "app")
	}))
	t.Cleanup(back.Close)
	g := newTestGateway(t)
	g.start(hygieneConfig(back.URL))
	client := g.client(false)
	const hsts = "max-age=31536000"
	do := func(t *testing.T, c *http.Client, url, host string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s (Host %s): %v", url, host, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(body)
	}

	t.Run("ok-hsts-on-every-https-answer", func(t *testing.T) {
		tests := []struct {
			name, path, host string
			want             int
		}{
			{name: "ok-proxied", path: "/pub/x", host: "app.example.com", want: http.StatusOK},
			{name: "ok-unauthenticated", path: "/x", host: "app.example.com", want: http.StatusUnauthorized},
			{name: "ok-no-route", path: "/x", host: "other.example.com", want: http.StatusNotFound},
			{name: "ok-bad-path", path: "/a;b", host: "app.example.com", want: http.StatusBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, h2 := range []bool{false, true} {
					res, _ := do(t, g.client(h2), g.url(tt.path), tt.host)
					if res.StatusCode != tt.want {
						t.Errorf("GET %s (HTTP/%d) = %d; want %d", tt.path, res.ProtoMajor, res.StatusCode, tt.want)
					}
					// RFC 6797 §8.1: a browser heeds only the first STS
					// field, so the gateway's must come first even when
					// the upstream sends one.
					if got := res.Header.Values("Strict-Transport-Security"); len(got) == 0 || got[0] != hsts {
						t.Errorf("GET %s (HTTP/%d): Strict-Transport-Security = %q; want %q first", tt.path, res.ProtoMajor, got, hsts)
					}
					if got := res.Header.Values("X-Request-Id"); len(got) != 1 || got[0] == "" {
						t.Errorf("GET %s (HTTP/%d): X-Request-Id = %q; want exactly one", tt.path, res.ProtoMajor, got)
					}
				}
			})
		}
	})

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Run("redirect", func(t *testing.T) {
		httpURL := func(p string) string { return "http://" + g.httpAddr() + p }
		tests := []struct {
			name, host, path string
			target           string // raw method and request-target, instead of path
			want             int
			wantLoc          string
		}{
			{name: "ok-route-host", host: "app.example.com", path: "/x?y=1",
				want: http.StatusPermanentRedirect, wantLoc: fmt.Sprintf("https://app.example.com:%d/x?y=1", g.port("https"))},
			{name: "ok-route-host-with-port-and-case", host: "APP.example.com.:" + fmt.Sprint(g.port("http")), path: "/",
				want: http.StatusPermanentRedirect, wantLoc: fmt.Sprintf("https://app.example.com:%d/", g.port("https"))},
			{name: "ok-loopback-certificate-name", host: g.httpAddr(), path: "/a/b",
				want: http.StatusPermanentRedirect, wantLoc: fmt.Sprintf("https://127.0.0.1:%d/a/b", g.port("https"))},
			{name: "ok-localhost", host: "localhost", path: "/",
				want: http.StatusPermanentRedirect, wantLoc: fmt.Sprintf("https://localhost:%d/", g.port("https"))},
			{name: "ok-path-looks-like-authority", host: "app.example.com", path: "//evil.example/x",
				want: http.StatusPermanentRedirect, wantLoc: fmt.Sprintf("https://app.example.com:%d//evil.example/x", g.port("https"))},
			{name: "fail-foreign-host", host: "evil.example", path: "/x", want: http.StatusBadRequest},
			{name: "fail-foreign-subdomain", host: "evil.app.example.com", path: "/x", want: http.StatusBadRequest},
			{name: "fail-userinfo-trick", host: "app.example.com@evil.example", path: "/x", want: http.StatusBadRequest},
			// Request-targets that name no path on the https side
			// (RFC 9112 §3.2.3, §3.2.4) get no Location.
			{name: "fail-asterisk-form", host: "app.example.com", target: "GET *", want: http.StatusBadRequest},
			{name: "fail-authority-form", host: "app.example.com", target: "CONNECT app.example.com:443", want: http.StatusBadRequest},
			{name: "ok-absolute-form", host: "ignored.example", target: "GET http://app.example.com/x?y=1",
				want: http.StatusPermanentRedirect, wantLoc: fmt.Sprintf("https://app.example.com:%d/x?y=1", g.port("https"))},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.target != "" {
					res := rawHTTP(t, g.httpAddr(), tt.target+" HTTP/1.1\r\nHost: "+tt.host+"\r\n\r\n")
					if res.StatusCode != tt.want || res.Header.Get("Location") != tt.wantLoc {
						t.Errorf("%s (Host %s) = %d Location %q; want %d %q",
							tt.target, tt.host, res.StatusCode, res.Header.Get("Location"), tt.want, tt.wantLoc)
					}
					return
				}
				res, _ := do(t, noFollow, httpURL(tt.path), tt.host)
				if res.StatusCode != tt.want || res.Header.Get("Location") != tt.wantLoc {
					t.Errorf("GET http %s (Host %s) = %d Location %q; want %d %q",
						tt.path, tt.host, res.StatusCode, res.Header.Get("Location"), tt.want, tt.wantLoc)
				}
				// RFC 6797 §7.2: never over plain HTTP.
				if v := res.Header.Get("Strict-Transport-Security"); v != "" {
					t.Errorf("http listener sent Strict-Transport-Security %q; want none", v)
				}
			})
		}
	})

	t.Run("ops-on-ops-listener-only", func(t *testing.T) {
		for range 3 {
			do(t, client, g.url("/pub/x"), "app.example.com")
			do(t, client, g.url("/private"), "app.example.com")
		}
		tests := []struct {
			path     string
			want     int
			wantBody []string
		}{
			{path: "/healthz", want: http.StatusOK, wantBody: []string{`{"status":"ok"}`}},
			{path: "/readyz", want: http.StatusOK, wantBody: []string{`"ready":true`}},
			{path: "/metrics", want: http.StatusOK, wantBody: []string{
				`authgate_requests_total{code="200",route="pub"} `,
				`authgate_requests_total{code="401",route="app"} `,
				`authgate_request_duration_seconds_bucket{route="pub",le="`,
			}},
			{path: "/pub/x", want: http.StatusNotFound}, // the ops listener serves no route
		}
		for _, tt := range tests {
			res, body := do(t, noFollow, g.opsURL(tt.path), "127.0.0.1")
			if res.StatusCode != tt.want {
				t.Errorf("ops GET %s = %d; want %d", tt.path, res.StatusCode, tt.want)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(body, w) {
					t.Errorf("ops GET %s: body lacks %q:\n%.2000s", tt.path, w, body)
				}
			}
		}

		// On the public listeners the ops paths are ordinary paths: the
		// routes answer them, and never with metrics or health.
		for _, p := range []string{"/metrics", "/healthz", "/readyz", "/Metrics", "/metrics/", "//metrics"} {
			for _, tc := range []struct {
				host string
				want int
			}{{"app.example.com", http.StatusUnauthorized}, {"127.0.0.1", http.StatusNotFound}} {
				res, body := do(t, client, g.url(p), tc.host)
				if res.StatusCode != tc.want || strings.Contains(body, "authgate_") || strings.Contains(body, `"status":"ok"`) ||
					strings.Contains(body, `"ready"`) {
					t.Errorf("https GET %s (Host %s) = %d %.200q; want %d from the routes", p, tc.host, res.StatusCode, body, tc.want)
				}
			}
			res, _ := do(t, noFollow, "http://"+g.httpAddr()+p, "app.example.com")
			if res.StatusCode != http.StatusPermanentRedirect {
				t.Errorf("http GET %s = %d; want 308 to https", p, res.StatusCode)
			}
		}
	})
}

// rawHTTP sends request as written on a plain TCP connection to addr.
func rawHTTP(t *testing.T, addr, request string) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read the response to %q: %v", firstLine(request), err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// TestHSTSOff: tls.hsts: "" sends no Strict-Transport-Security.
func TestHSTSOff(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	g.tlsExtra = "  hsts: \"\"\n"
	g.start(`routes:
  - path: /
    auth: public
    upstream: ` + b.URL + "\n")
	res, _ := get(t, g.client(false), g.url("/"), nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d; want 200", res.StatusCode)
	}
	if v := res.Header.Values("Strict-Transport-Security"); len(v) != 0 {
		t.Errorf("Strict-Transport-Security = %q with tls.hsts: \"\"; want none", v)
	}
}

// TestTLSOff: with tls.mode off the http listener serves the routes itself,
// tells the upstream the scheme was http, and sends no HSTS.
func TestTLSOff(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	g.plain = true
	rs := g.start(`routes:
  - path: /
    auth: public
    upstream: ` + b.URL + "\n")
	if a := rs.Addr("https"); a != nil {
		t.Errorf("Addr(https) = %v with tls.mode off; want nil", a)
	}
	res, err := http.Get("http://" + g.httpAddr() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET http /x = %d; want 200 from the route", res.StatusCode)
	}
	if v := res.Header.Values("Strict-Transport-Security"); len(v) != 0 {
		t.Errorf("plain-HTTP answer carries Strict-Transport-Security %q; want none (RFC 6797 §7.2)", v)
	}
	if got := b.last(t).Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("upstream X-Forwarded-Proto = %q; want http", got)
	}
}

// TestProtectedRouteAtStart: the first request after a start is decided on
// a loaded denylist, not refused with 503 because the mirror is still
// loading. Fail-closed is for a denylist that is down, not for one that is
// starting: a restart must not cost the first clients an error.
func TestProtectedRouteAtStart(t *testing.T) {
	for _, store := range []string{"database", "redis"} {
		t.Run("ok-"+store, func(t *testing.T) {
			b := newBackend(t, "app")
			g := newTestGateway(t)
			redis := ""
			if store == "redis" {
				url, prefix := testenv.RedisURL(t)
				redis = fmt.Sprintf("redis:\n  url: %s\n  key_prefix: %q\n", url, prefix)
			}
			cfgFile := g.write(redis + "routes:\n  - path: /\n    auth: required\n    upstream: " + b.URL + "\n")
			token := mintToken(t, cfgFile, tokens.IssueInput{SessionID: "s", Username: "alice"}, "1")
			g.run(cfgFile)
			res, body := get(t, g.client(false), g.url("/x"), http.Header{"Authorization": {"Bearer " + token}})
			if res.StatusCode != http.StatusOK {
				t.Errorf("first request after start = %d %q; want 200", res.StatusCode, body)
			}
		})
	}
}
