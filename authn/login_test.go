package authn

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/problem"
)

const browserPassword = "correct horse battery"

var csrfFieldRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// loginPage GETs the login page (with the browser's cookies) and returns
// the CSRF cookie it set, or nil, and the token in its form.
func loginPage(t *testing.T, h http.Handler, target string, cookies ...*http.Cookie) (*http.Response, string, string) {
	t.Helper()
	res, body := serve(t, h, withCookies(apiRequest(http.MethodGet, target, "", ""), cookies...))
	wantStatus(t, "GET "+target, res, body, http.StatusOK)
	m := csrfFieldRE.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("GET %s: no csrf_token field in\n%s", target, body)
	}
	return res, m[1], string(body)
}

// browserPost is a same-origin form post from a current browser.
func browserPost(target string, form url.Values, cookies ...*http.Cookie) *http.Request {
	r := withCookies(formRequest(target, form), cookies...)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("Origin", "https://"+testHost)
	return r
}

// wantPageHeaders checks the headers of our HTML pages.
func wantPageHeaders(t *testing.T, what string, res *http.Response) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %s = %q; want %q", what, k, got, want)
		}
	}
}

// wantSessionCookies checks the two cookies of a new session, attribute by
// attribute, and returns them.
func wantSessionCookies(t *testing.T, what string, res *http.Response, s *Service) (access, refresh *http.Cookie) {
	t.Helper()
	access, refresh = cookieNamed(res, "__Host-authgate"), cookieNamed(res, "__Secure-authgate-refresh")
	if access == nil || refresh == nil {
		t.Fatalf("%s: Set-Cookie %q; want the access and the refresh cookie", what, res.Header.Values("Set-Cookie"))
	}
	maxAge := int(apiConfig("").Tokens.RefreshTTL.D() / time.Second)
	for _, c := range []struct {
		c        *http.Cookie
		path     string
		sameSite http.SameSite
	}{{access, "/", http.SameSiteLaxMode}, {refresh, "/auth/refresh", http.SameSiteStrictMode}} {
		if c.c.Value == "" || c.c.Path != c.path || c.c.Domain != "" || !c.c.Secure || !c.c.HttpOnly || c.c.SameSite != c.sameSite ||
			c.c.MaxAge <= maxAge-60 || c.c.MaxAge > maxAge || !c.c.Expires.IsZero() {
			t.Errorf("%s: cookie %s; want a value, Path=%s, no Domain, Secure, HttpOnly, SameSite=%v, Max-Age about %d", what, c.c, c.path, c.sameSite, maxAge)
		}
	}
	if !strings.HasPrefix(refresh.Value, accounts.RefreshTokenPrefix) {
		t.Errorf("%s: the refresh cookie does not hold a refresh token", what)
	}
	return access, refresh
}

// wantClearedCookies checks that both session cookies are deleted: empty,
// Max-Age=0, and the attributes they were set with (else the browser
// keeps the original).
func wantClearedCookies(t *testing.T, what string, res *http.Response, s *Service) {
	t.Helper()
	want := map[string]string{
		"__Host-authgate=":           "__Host-authgate=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
		"__Secure-authgate-refresh=": "__Secure-authgate-refresh=; Path=/auth/refresh; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
	}
	for _, line := range res.Header.Values("Set-Cookie") {
		for prefix, w := range want {
			if strings.HasPrefix(line, prefix) {
				if line != w {
					t.Errorf("%s: Set-Cookie %q; want %q", what, line, w)
				}
				delete(want, prefix)
			}
		}
	}
	for _, w := range want {
		t.Errorf("%s: no Set-Cookie %q", what, w)
	}
}

func TestBrowserLoginFlow(t *testing.T) {
	s := sqliteService(t, nil)
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "bob", browserPassword)

	// The login page: its headers, the CSRF cookie, an accessible form.
	res, token, page := loginPage(t, h, "/auth/login?rd="+url.QueryEscape("/app/page?x=1"))
	wantPageHeaders(t, "login page", res)
	csrf := cookieNamed(res, "__Host-authgate-csrf")
	if csrf == nil || len(csrf.Value) != 43 || csrf.Path != "/" || csrf.Domain != "" || !csrf.Secure || !csrf.HttpOnly ||
		csrf.SameSite != http.SameSiteStrictMode {
		t.Fatalf("CSRF cookie %v; want 32 random bytes, Path=/, no Domain, Secure, HttpOnly, SameSite=Strict", csrf)
	}
	for _, want := range []string{
		`<html lang="en">`, `<label for="username">`, `id="username" name="username"`, `autocomplete="username"`,
		`<label for="password">`, `id="password" name="password" type="password" autocomplete="current-password"`,
		`role="alert"`, `name="rd" value="/app/page?x=1"`, `href="/auth/login.css"`, `name="viewport"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("login page loads or links something outside the origin, or uses script")
	}
	// A second visit keeps the cookie (several tabs stay valid).
	res2, token2, _ := loginPage(t, h, "/auth/login", csrf)
	if cookieNamed(res2, "__Host-authgate-csrf") != nil || token2 != token {
		t.Errorf("second visit replaced the CSRF cookie or changed the token")
	}

	// The stylesheet.
	res, body := serve(t, h, apiRequest(http.MethodGet, "/auth/login.css", "", ""))
	wantStatus(t, "login.css", res, body, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" || !strings.Contains(string(body), ".card") {
		t.Errorf("login.css: Content-Type %q", ct)
	}

	// Post the form: session cookies, 303 to rd.
	form := url.Values{"csrf_token": {token}, "rd": {"/app/page?x=1"}, "username": {"bob"}, "password": {browserPassword}}
	res, body = serve(t, h, browserPost("/auth/login", form, csrf))
	wantStatus(t, "POST login form", res, body, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/app/page?x=1" {
		t.Errorf("Location = %q; want /app/page?x=1", loc)
	}
	wantNoStore(t, "POST login form", res)
	access, refresh := wantSessionCookies(t, "POST login form", res, s)

	// The cookie authenticates.
	res, body = serve(t, h, withCookies(apiRequest(http.MethodGet, "/auth/me", "", ""), access))
	wantStatus(t, "me with the cookie", res, body, http.StatusOK)
	if me := decode[userView](t, body); me.Username != "bob" {
		t.Errorf("me = %+v; want bob", me)
	}
	// The login page now says who is signed in.
	_, _, page = loginPage(t, h, "/auth/login", access, csrf)
	if !strings.Contains(page, "signed in as <strong>bob</strong>") {
		t.Errorf("login page with a session does not say who is signed in")
	}

	// Log out from the sign-out page.
	res, token, page = loginPage(t, h, "/auth/logout", access, csrf)
	wantPageHeaders(t, "logout page", res)
	if !strings.Contains(page, `action="/auth/logout"`) || !strings.Contains(page, "<strong>bob</strong>") {
		t.Errorf("logout page:\n%s", page)
	}
	res, body = serve(t, h, browserPost("/auth/logout", url.Values{"csrf_token": {token}}, access, csrf))
	wantStatus(t, "POST logout form", res, body, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/auth/login" {
		t.Errorf("logout Location = %q; want /auth/login", loc)
	}
	wantClearedCookies(t, "POST logout form", res, s)
	wantRejected(t, "access cookie after the logout form", s, access.Value)
	res, body = serve(t, h, withCookies(apiRequest(http.MethodGet, "/auth/refresh?rd=%2Fapp", "", ""), access, refresh))
	wantStatus(t, "browser refresh after logout", res, body, http.StatusFound)
	if loc := res.Header.Get("Location"); loc != "/auth/login?rd=%2Fapp" {
		t.Errorf("browser refresh after logout: Location = %q; want /auth/login?rd=%%2Fapp", loc)
	}
	wantClearedCookies(t, "browser refresh after logout", res, s)
	wantCovered(t, h, "browserRefresh", "login", "loginPage", "logout", "logoutPage", "me", "register")
}

func TestBrowserLoginFailures(t *testing.T) {
	s := sqliteService(t, func(c *stackConfig) { c.AuthAPI.LoginLimit = "100/min" })
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "bob", browserPassword)
	mustRegisterAPI(t, h, "carol", browserPassword)
	if _, err := s.accounts.SetActive(context.Background(), "carol", false); err != nil {
		t.Fatal(err)
	}
	res, token, _ := loginPage(t, h, "/auth/login")
	csrf := cookieNamed(res, "__Host-authgate-csrf")
	other := &http.Cookie{Name: csrf.Name, Value: strings.Repeat("A", 43)}

	tests := []struct {
		name    string
		form    url.Values
		cookies []*http.Cookie
		headers map[string]string // replace browserPost's; "" deletes
		want    int
		wantMsg string
	}{
		{"ok-old-browser-without-origin-headers", url.Values{"username": {"bob"}}, []*http.Cookie{csrf},
			map[string]string{"Sec-Fetch-Site": "", "Origin": ""}, http.StatusSeeOther, ""},
		{"ok-typed-url", url.Values{"username": {"bob"}}, []*http.Cookie{csrf}, map[string]string{"Sec-Fetch-Site": "none", "Origin": ""}, http.StatusSeeOther, ""},
		{"fail-wrong-password", url.Values{"username": {"bob"}, "password": {"wrong password!"}}, []*http.Cookie{csrf}, nil,
			http.StatusUnauthorized, "Incorrect username or password."},
		{"fail-unknown-user", url.Values{"username": {"nobody"}}, []*http.Cookie{csrf}, nil, http.StatusUnauthorized, "Incorrect username or password."},
		{"fail-disabled", url.Values{"username": {"carol"}}, []*http.Cookie{csrf}, nil, http.StatusUnauthorized, "This account is disabled."},
		{"fail-missing-password", url.Values{"username": {"bob"}, "password": {""}}, []*http.Cookie{csrf}, nil,
			http.StatusUnprocessableEntity, "Enter your username and password."},
		{"fail-no-csrf-cookie", url.Values{"username": {"bob"}}, nil, nil, http.StatusForbidden, "expired or was sent from another site"},
		{"fail-other-csrf-cookie", url.Values{"username": {"bob"}}, []*http.Cookie{other}, nil, http.StatusForbidden, "expired"},
		{"fail-empty-csrf-field", url.Values{"username": {"bob"}, "csrf_token": {""}}, []*http.Cookie{csrf}, nil, http.StatusForbidden, "expired"},
		{"fail-forged-csrf-field", url.Values{"username": {"bob"}, "csrf_token": {csrf.Value}}, []*http.Cookie{csrf}, nil, http.StatusForbidden, "expired"},
		{"fail-cross-site", url.Values{"username": {"bob"}}, []*http.Cookie{csrf}, map[string]string{"Sec-Fetch-Site": "cross-site"},
			http.StatusForbidden, "another site"},
		{"fail-same-site-sibling", url.Values{"username": {"bob"}}, []*http.Cookie{csrf}, map[string]string{"Sec-Fetch-Site": "same-site"},
			http.StatusForbidden, "another site"},
		{"fail-foreign-origin", url.Values{"username": {"bob"}}, []*http.Cookie{csrf},
			map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}, http.StatusForbidden, "another site"},
		{"fail-null-origin", url.Values{"username": {"bob"}}, []*http.Cookie{csrf}, map[string]string{"Sec-Fetch-Site": "", "Origin": "null"},
			http.StatusForbidden, "another site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"csrf_token": {token}, "password": {browserPassword}, "rd": {"/app"}}
			for k, v := range tt.form {
				form[k] = v
			}
			r := browserPost("/auth/login", form, tt.cookies...)
			for k, v := range tt.headers {
				if v == "" {
					r.Header.Del(k)
				} else {
					r.Header.Set(k, v)
				}
			}
			res, body := serve(t, h, r)
			wantStatus(t, "POST login form", res, body, tt.want)
			if tt.want == http.StatusSeeOther {
				wantSessionCookies(t, tt.name, res, s)
				return
			}
			wantPageHeaders(t, tt.name, res)
			page := string(body)
			if !strings.Contains(page, `role="alert"><p>`) || !strings.Contains(page, tt.wantMsg) {
				t.Errorf("page lacks the alert %q:\n%s", tt.wantMsg, page)
			}
			if !strings.Contains(page, `value="`+form.Get("username")+`"`) {
				t.Errorf("page does not keep the username %q", form.Get("username"))
			}
			if pw := form.Get("password"); pw != "" && strings.Contains(page, pw) {
				t.Errorf("page echoes the password")
			}
			if cookieNamed(res, "__Host-authgate") != nil || cookieNamed(res, "__Secure-authgate-refresh") != nil {
				t.Errorf("a failed login set session cookies")
			}
			if !strings.Contains(page, `name="rd" value="/app"`) {
				t.Errorf("page lost rd")
			}
		})
	}
}

func TestBrowserLoginThrottled(t *testing.T) {
	s := sqliteService(t, func(c *stackConfig) { c.AuthAPI.LoginLimit = "2/min" })
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "bob", browserPassword)
	res, token, _ := loginPage(t, h, "/auth/login")
	csrf := cookieNamed(res, "__Host-authgate-csrf")
	post := func(password string) (*http.Response, []byte) {
		return serve(t, h, browserPost("/auth/login", url.Values{"csrf_token": {token}, "username": {"bob"}, "password": {password}}, csrf))
	}
	for range 2 {
		res, body := post("wrong password!")
		wantStatus(t, "wrong password", res, body, http.StatusUnauthorized)
	}
	res, body := post(browserPassword)
	wantStatus(t, "right password while throttled", res, body, http.StatusTooManyRequests)
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q; want seconds", ra)
	}
	if !strings.Contains(string(body), "Too many failed sign-in attempts. Try again in ") {
		t.Errorf("throttled page:\n%s", body)
	}
}

func TestPageMessage(t *testing.T) {
	tests := []struct {
		name   string
		page   string
		err    error
		status int
		retry  string
		want   string
	}{
		{"ok-invalid-credentials", "login", problem.ErrInvalidCredentials, 401, "", "Incorrect username or password."},
		{"ok-disabled", "login", problem.ErrUserDisabled, 401, "", "This account is disabled."},
		{"ok-validation", "login", &problem.ValidationError{Field: "username", Msg: "field required"}, 422, "", "Enter your username and password."},
		{"ok-cross-site", "logout", problem.ErrCrossSite, 403, "", "This form has expired or was sent from another site. Please try again."},
		{"ok-throttled", "login", &problem.ThrottledError{RetryAfter: 42 * time.Second}, 429, "42", "Too many failed sign-in attempts. Try again in 42 seconds."},
		{"ok-throttled-no-retry", "login", &problem.ThrottledError{}, 429, "", "Too many failed sign-in attempts. Try again later."},
		{"ok-login-unavailable", "login", problem.ErrThrottleUnavailable, 503, "1", "Signing in is temporarily unavailable. Try again in a moment."},
		{"ok-logout-unavailable", "logout", problem.ErrDenylistUnavailable, 503, "1",
			"You are signed out of this browser, but the sign-out may not have reached every server yet. Try again in a moment."},
		{"ok-internal", "login", context.Canceled, 500, "", "Something went wrong. Please try again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pageMessage(tt.page, tt.err, tt.status, tt.retry); got != tt.want {
				t.Errorf("pageMessage(%q, %v, %d, %q) = %q; want %q", tt.page, tt.err, tt.status, tt.retry, got, tt.want)
			}
		})
	}
}
