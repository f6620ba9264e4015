package gateway

import (
	stdhtml "html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Route protection and the login pages: a browser sent to sign in comes
// back where it was going, and nowhere else.

// pProtectLoginRedirect: a browser navigation without a usable session
// on a login_redirect route goes to the login page with the original path
// and query as rd (or, when its access cookie is ours but expired or cut
// off, to the refresh endpoint first); API clients, non-GET requests and
// login_redirect: false routes get the 401.
func pProtectLoginRedirect(t *testing.T, f *pProtectFixture) {
	const html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	const target = "/required/page?x=1&y=a%20b"
	rd := url.QueryEscape(target)
	tests := []struct {
		name         string
		method, path string
		accept       string
		cookie       string
		wantCode     int
		wantLocation string
	}{
		{"ok-browser-no-session", "GET", target, html, "", 302, "/auth/login?rd=" + rd},
		{"ok-browser-head", "HEAD", target, html, "", 302, "/auth/login?rd=" + rd},
		{"ok-browser-tampered-cookie", "GET", target, html, "__Host-authgate=" + f.aliceTok.tampered, 302, "/auth/login?rd=" + rd},
		{"ok-browser-expired-cookie", "GET", target, html, "__Host-authgate=" + f.aliceTok.expired, 302, "/auth/refresh?rd=" + rd},
		{"ok-browser-revoked-cookie", "GET", target, html, "__Host-authgate=" + f.aliceTok.revoked, 302, "/auth/refresh?rd=" + rd},
		{"ok-browser-dot-segments", "GET", "/public/../required/page", html, "", 302, "/auth/login?rd=" + url.QueryEscape("/required/page")},
		{"fail-no-login-redirect", "GET", "/noredirect/page", html, "", 401, ""},
		{"fail-api-client", "GET", target, "application/json", "", 401, ""},
		{"fail-no-accept", "GET", target, "", "", 401, ""},
		{"fail-post", "POST", target, html, "", 401, ""},
		{"fail-browser-missing-role", "GET", "/roles/page", html, "__Host-authgate=" + f.aliceTok.valid, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr [][2]string
			if tt.accept != "" {
				hdr = append(hdr, [2]string{"Accept", tt.accept})
			}
			if tt.cookie != "" {
				hdr = append(hdr, [2]string{"Cookie", tt.cookie})
			}
			before := f.b.count()
			resp := f.g.do(t, tt.method, tt.path, nil, hdr...)
			if resp.StatusCode != tt.wantCode || resp.Header.Get("Location") != tt.wantLocation {
				t.Fatalf("%s %s = %d Location %q; want %d %q", tt.method, tt.path,
					resp.StatusCode, resp.Header.Get("Location"), tt.wantCode, tt.wantLocation)
			}
			if n := f.b.count() - before; n != 0 {
				t.Errorf("backend received %d requests; want none", n)
			}
			if tt.wantCode == 302 {
				if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q; want no-store (a redirect that depends on the session)", cc)
				}
				return
			}
			if tt.method != "HEAD" {
				resp.checkProblem(t)
			}
		})
	}
}

// pRDField finds the login form's hidden rd value in a login page.
var pRDField = regexp.MustCompile(`<input type="hidden" name="rd" value="([^"]*)">`)

// pProtectLoginRoundTrip: the rd the gateway sends a browser to the login
// page with survives the login page's checks unchanged, for paths and
// queries with escapes, spaces, "@", "?" in the path and URLs in the
// query — so the browser comes back to where it was, and never elsewhere.
// One of them is followed through a real form login.
func pProtectLoginRoundTrip(t *testing.T, f *pProtectFixture) {
	tests := []struct {
		name   string
		target string // as the client sends it
		wantRD string // where the browser comes back to
	}{
		{"ok-query", "/required/page?x=1&y=a%20b", "/required/page?x=1&y=a%20b"},
		{"ok-escaped-utf8", "/required/caf%C3%A9", "/required/caf%C3%A9"},
		{"ok-raw-utf8", "/required/café", "/required/caf%C3%A9"},
		{"ok-space", "/required/a%20b", "/required/a%20b"},
		{"ok-percent", "/required/100%25", "/required/100%25"},
		{"ok-at", "/required/@evil.example", "/required/@evil.example"},
		{"ok-url-in-query", "/required/x?next=https://evil.example/&n=%2F%2Fevil", "/required/x?next=https://evil.example/&n=%2F%2Fevil"},
		{"ok-case-kept", "/Required/Page", "/Required/Page"},
		{"ok-dot-segments", "/public/../required/x", "/required/x"},
		{"ok-double-slash", "//required//x", "/required/x"},
		{"ok-quotes", `/required/%22%3C%3E'`, `/required/%22%3C%3E'`},
	}
	const html = "text/html"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.g.rawRequest(t, "GET "+tt.target+" HTTP/1.1\r\nHost: "+f.g.host+"\r\nAccept: "+html+"\r\nConnection: close\r\n\r\n")
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || loc != "/auth/login?rd="+url.QueryEscape(tt.wantRD) {
				t.Fatalf("GET %s = %d Location %q; want 302 to the login page with rd %q", tt.target, resp.StatusCode, loc, tt.wantRD)
			}
			page := f.g.do(t, http.MethodGet, loc, nil, [2]string{"Accept", html})
			m := pRDField.FindSubmatch(page.body)
			if page.StatusCode != http.StatusOK || m == nil {
				t.Fatalf("GET %s = %d without an rd field", loc, page.StatusCode)
			}
			if got := stdhtml.UnescapeString(string(m[1])); got != tt.wantRD {
				t.Errorf("login page rd = %q; want %q", got, tt.wantRD)
			}
		})
	}

	t.Run("ok-form-login", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := *f.g.client
		c.Jar = jar
		const target = "/required/caf%C3%A9?next=%2F%2Fevil.example"
		page, err := c.Get(f.g.base + "/auth/login?rd=" + url.QueryEscape(target))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(page.Body)
		page.Body.Close()
		csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
		if csrf == nil {
			t.Fatalf("login page without a CSRF field:\n%s", body)
		}
		form := url.Values{"csrf_token": {string(csrf[1])}, "rd": {target}, "username": {f.alice.Username}, "password": {f.alice.Password}}
		req, _ := http.NewRequest(http.MethodPost, f.g.base+"/auth/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", f.g.base)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != target {
			t.Fatalf("form login = %d Location %q; want 303 %q", resp.StatusCode, resp.Header.Get("Location"), target)
		}
		before := f.b.count()
		resp, err = c.Get(f.g.base + target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s after the form login = %d; want 200", target, resp.StatusCode)
		}
		seen := f.b.last(t, before)
		if seen.RequestURI != target || seen.Header.Get("X-Auth-User") != "alice" {
			t.Errorf("backend got %s as %q; want %s as alice", seen.RequestURI, seen.Header.Get("X-Auth-User"), target)
		}
	})
}
