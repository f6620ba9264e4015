package authn

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/tokens"
)

// browserCookies is what a browser holds after logging in with the form.
type browserCookies struct {
	access, refresh, csrf *http.Cookie
	csrfToken             string
}

// browserLogin logs username in through the login page.
func browserLoginCookies(t *testing.T, s *Service, h http.Handler, username string) browserCookies {
	t.Helper()
	res, token, _ := loginPage(t, h, "/auth/login")
	csrf := cookieNamed(res, "__Host-authgate-csrf")
	res, body := serve(t, h, browserPost("/auth/login", url.Values{"csrf_token": {token}, "username": {username}, "password": {browserPassword}}, csrf))
	wantStatus(t, "browser login", res, body, http.StatusSeeOther)
	access, refresh := wantSessionCookies(t, "browser login", res, s)
	return browserCookies{access: access, refresh: refresh, csrf: csrf, csrfToken: token}
}

func TestCookieRefresh(t *testing.T) {
	s := sqliteService(t, nil)
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "bob", browserPassword)
	c := browserLoginCookies(t, s, h, "bob")

	post := func(headers map[string]string, cookies ...*http.Cookie) (*http.Response, []byte) {
		r := withCookies(apiRequest(http.MethodPost, "/auth/refresh", "", ""), cookies...)
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		return serve(t, h, r)
	}
	// Refused without the browser's word that it is same-origin, or a
	// CSRF token; and refused cross-site whatever else comes along. (A
	// browser sends its access cookie, Path=/, along with the refresh
	// cookie; the refresh cookie counts only with it.)
	for _, tt := range []struct {
		name    string
		headers map[string]string
		cookies []*http.Cookie
	}{
		{"fail-no-origin-no-csrf", nil, []*http.Cookie{c.access, c.refresh}},
		{"fail-no-origin-wrong-csrf", map[string]string{"X-CSRF-Token": "nope"}, []*http.Cookie{c.access, c.refresh, c.csrf}},
		{"fail-no-origin-csrf-without-cookie", map[string]string{"X-CSRF-Token": c.csrfToken}, []*http.Cookie{c.access, c.refresh}},
		{"fail-cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "X-CSRF-Token": c.csrfToken}, []*http.Cookie{c.access, c.refresh, c.csrf}},
		{"fail-foreign-origin", map[string]string{"Origin": "https://evil.example", "X-CSRF-Token": c.csrfToken}, []*http.Cookie{c.access, c.refresh, c.csrf}},
	} {
		res, body := post(tt.headers, tt.cookies...)
		wantStatus(t, tt.name, res, body, http.StatusForbidden)
		if len(res.Cookies()) != 0 {
			t.Errorf("%s: refused refresh touched cookies: %v", tt.name, res.Header.Values("Set-Cookie"))
		}
	}
	// An old browser with the CSRF token: accepted, new cookies.
	res, body := post(map[string]string{"X-CSRF-Token": c.csrfToken}, c.access, c.refresh, c.csrf)
	wantStatus(t, "refresh with cookie and CSRF token", res, body, http.StatusOK)
	_, refresh := wantSessionCookies(t, "refresh with cookie", res, s)
	if pair := decode[accounts.TokenPair](t, body); pair.RefreshToken != refresh.Value {
		t.Errorf("the body and the cookie hold different refresh tokens")
	}
	// A current browser, same-origin.
	res, body = post(map[string]string{"Sec-Fetch-Site": "same-origin"}, c.access, refresh)
	wantStatus(t, "refresh with cookie, same-origin", res, body, http.StatusOK)
	wantSessionCookies(t, "refresh with cookie, same-origin", res, s)
	// The used cookie again: the session dies, the cookies go.
	res, body = post(map[string]string{"Sec-Fetch-Site": "same-origin"}, c.access, refresh)
	wantStatus(t, "refresh with a used cookie", res, body, http.StatusUnauthorized)
	wantClearedCookies(t, "refresh with a used cookie", res, s)
	// A cookie and a different body token are two credentials.
	r := withCookies(jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": "agr_other"}), c.refresh)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	res, body = serve(t, h, r)
	wantStatus(t, "refresh with cookie and body", res, body, http.StatusBadRequest)
}

func TestLogoutWithAccessCookie(t *testing.T) {
	s := sqliteService(t, nil)
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "bob", browserPassword)
	c := browserLoginCookies(t, s, h, "bob")
	// A script's logout with the cookie and no origin information needs
	// the CSRF token.
	res, body := serve(t, h, withCookies(apiRequest(http.MethodPost, "/auth/logout", "", ""), c.access))
	wantStatus(t, "cookie logout without origin or CSRF", res, body, http.StatusForbidden)
	wantNotRevoked(t, s, c.access.Value)
	r := withCookies(apiRequest(http.MethodPost, "/auth/logout", "", ""), c.access)
	r.Header.Set("Origin", "https://"+testHost)
	res, body = serve(t, h, r)
	wantStatus(t, "cookie logout, same origin", res, body, http.StatusOK)
	wantClearedCookies(t, "cookie logout", res, s)
	wantRejected(t, "access cookie after logout", s, c.access.Value)
}

// wantNotRevoked fails if s refuses tok.
func wantNotRevoked(t *testing.T, s *Service, tok string) {
	t.Helper()
	if _, _, err := s.Authenticate(bearer(apiRequest(http.MethodGet, "/x", "", ""), tok)); err != nil {
		t.Errorf("Authenticate = %v; want the token still valid", err)
	}
}

func TestBrowserRefresh(t *testing.T) {
	s := sqliteService(t, nil)
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "bob", browserPassword)
	get := func(target string, headers map[string]string, cookies ...*http.Cookie) (*http.Response, []byte) {
		r := withCookies(apiRequest(http.MethodGet, target, "", ""), cookies...)
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		return serve(t, h, r)
	}
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin"}

	for _, tt := range []struct{ name, rd, want string }{
		{"ok-rd", "/app/page?x=1", "/app/page?x=1"},
		{"fail-rd-offsite", "//evil.com/", "/"},
		{"fail-rd-loop", "/auth/login", "/"},
	} {
		c := browserLoginCookies(t, s, h, "bob")
		res, body := get("/auth/refresh?rd="+url.QueryEscape(tt.rd), sameOrigin, c.access, c.refresh)
		wantStatus(t, tt.name, res, body, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != tt.want {
			t.Errorf("%s: Location = %q; want %q", tt.name, loc, tt.want)
		}
		wantNoStore(t, tt.name, res)
		_, refresh := wantSessionCookies(t, tt.name, res, s)
		if refresh.Value == c.refresh.Value {
			t.Errorf("%s: the refresh cookie was not rotated", tt.name)
		}
	}

	// Arriving from another site (the Strict cookie is withheld) or from
	// a sibling subdomain, a navigation never renews a session: to the
	// login page, cookies untouched. The page offers to continue the
	// session, a navigation from our own origin that renews it.
	c := browserLoginCookies(t, s, h, "bob")
	expired := &http.Cookie{Name: c.access.Name, Value: expiredCopy(t, s, c.access.Value)}
	for _, site := range []string{"cross-site", "same-site"} {
		res, body := get("/auth/refresh?rd=%2Fapp", map[string]string{"Sec-Fetch-Site": site}, expired)
		wantStatus(t, site+" arrival", res, body, http.StatusFound)
		if loc := res.Header.Get("Location"); loc != "/auth/login?rd=%2Fapp" {
			t.Errorf("%s arrival: Location = %q; want the login page", site, loc)
		}
		if len(res.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("%s arrival set cookies: %v", site, res.Header.Values("Set-Cookie"))
		}
	}
	res, body := get("/auth/login?rd=%2Fapp", sameOrigin, expired)
	wantStatus(t, "login page with an expired session", res, body, http.StatusOK)
	if !strings.Contains(string(body), `<a id="continue" href="/auth/refresh?rd=%2Fapp">Continue as bob</a>`) {
		t.Errorf("login page with an expired session: no link to continue as bob in\n%s", body)
	}
	res, body = get("/auth/refresh?rd=%2Fapp", sameOrigin, expired, c.refresh)
	wantStatus(t, "continue from the login page", res, body, http.StatusSeeOther)
	wantSessionCookies(t, "continue from the login page", res, s)
	// Without a refresh cookie from our own origin: to the login page.
	res, body = get("/auth/refresh?rd=%2Fapp", sameOrigin)
	wantStatus(t, "no refresh cookie", res, body, http.StatusFound)
	if loc := res.Header.Get("Location"); loc != "/auth/login?rd=%2Fapp" {
		t.Errorf("no refresh cookie: Location = %q", loc)
	}
	wantClearedCookies(t, "no refresh cookie", res, s)
}

func TestShouldRefreshAndTransparentRefresh(t *testing.T) {
	clock := &testenv.OffsetClock{}
	cfg := apiConfig("sqlite:" + t.TempDir() + "/authgate.db")
	s := newAPIServiceAt(t, cfg, clock.Now)
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "bob", browserPassword)
	c := browserLoginCookies(t, s, h, "bob")

	foreign, err := tokens.New(tokens.Config{Issuer: "authgate", Audience: "authgate", Algorithm: tokens.AlgHS256,
		Secret: "another-secret-0123456789abcdefghij", AccessTTL: cfg.Tokens.AccessTTL, RefreshTTL: cfg.Tokens.RefreshTTL},
		tokens.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := foreign.Issue("1", tokens.IssueInput{SessionID: "s", Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	req := func(auth string, cookies ...*http.Cookie) *http.Request {
		r := withCookies(apiRequest(http.MethodGet, "/app", "", ""), cookies...)
		if auth != "" {
			r.Header.Set("Authorization", "Bearer "+auth)
		}
		return r
	}
	cookie := func(name, value string) *http.Cookie { return &http.Cookie{Name: name, Value: value} }

	if s.ShouldRefresh(req("", c.access)) {
		t.Errorf("ShouldRefresh(valid access cookie) = true; want false")
	}
	clock.Advance(cfg.Tokens.AccessTTL.D() + time.Minute)
	tests := []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"ok-expired-ours", req("", c.access), true},
		{"ok-expired-ours-with-refresh-cookie", req("", c.access, c.refresh), true},
		{"fail-no-cookie", req(""), false},
		{"fail-bearer-too", req(c.access.Value, c.access), false},
		{"fail-garbage", req("", cookie(c.access.Name, "abc.def.ghi")), false},
		{"fail-expired-foreign", req("", cookie(c.access.Name, forged)), false},
		{"fail-refresh-token-in-access-cookie", req("", cookie(c.access.Name, c.refresh.Value)), false},
	}
	for _, tt := range tests {
		if got := s.ShouldRefresh(tt.r); got != tt.want {
			t.Errorf("%s: ShouldRefresh = %v; want %v", tt.name, got, tt.want)
		}
	}
	if id, ok := s.tokens.ExpiredIdentity(forged); ok {
		t.Errorf("expiredIdentity(foreign token) = %v, true; want false", id)
	}

	// Authenticate: the expired cookie fails, with or without the
	// refresh cookie — there is no refresh in place on the request path
	// (a planted Path=/ refresh cookie would reach it); the browser is
	// renewed through GET /auth/refresh.
	for _, r := range []*http.Request{req("", c.access), req("", c.access, c.refresh)} {
		if _, _, err := s.Authenticate(r); !errors.Is(err, problem.ErrInvalidToken) {
			t.Errorf("Authenticate(expired cookie, %d cookies) = %v; want %v", len(r.Cookies()), err, problem.ErrInvalidToken)
		}
	}
	res, body := serve(t, h, withCookies(apiRequest(http.MethodGet, "/auth/refresh?rd=%2Fapp", "", ""), c.access, c.refresh))
	wantStatus(t, "refresh of an expired cookie", res, body, http.StatusSeeOther)
	access, refresh := wantSessionCookies(t, "refresh of an expired cookie", res, s)
	if s.ShouldRefresh(req("", access)) {
		t.Errorf("ShouldRefresh(renewed cookie) = true")
	}

	// A role change cuts the access token off but keeps the session: worth
	// a refresh, which brings the new role.
	clock.Advance(time.Second)
	if _, err := s.accounts.SetRoles(context.Background(), "bob", []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	if !s.ShouldRefresh(req("", access)) {
		t.Errorf("ShouldRefresh(cookie cut off by a role change) = false; want true")
	}
	// Tokens minted in the cut-off's own millisecond are revoked too; the
	// refresh comes later.
	clock.Advance(time.Second)
	r := withCookies(apiRequest(http.MethodGet, "/auth/refresh?rd=%2Fapp", "", ""), access, refresh)
	res, body = serve(t, h, r)
	wantStatus(t, "refresh after a role change", res, body, http.StatusSeeOther)
	access, refresh = wantSessionCookies(t, "refresh after a role change", res, s)
	id, _, err := s.Authenticate(req("", access))
	if err != nil || !id.HasAnyRole([]string{"admin"}) {
		t.Errorf("after the refresh: %v, %v; want the admin role", id, err)
	}

	// The logout form with an expired access cookie still ends the
	// session: the refresh cookie is dead afterwards.
	clock.Advance(cfg.Tokens.AccessTTL.D() + time.Minute)
	res, body = serve(t, h, browserPost("/auth/logout", url.Values{"csrf_token": {c.csrfToken}}, access, c.csrf))
	wantStatus(t, "logout form with an expired cookie", res, body, http.StatusSeeOther)
	wantClearedCookies(t, "logout form with an expired cookie", res, s)
	res, body = serve(t, h, withCookies(apiRequest(http.MethodGet, "/auth/refresh?rd=%2Fapp", "", ""), access, refresh))
	wantStatus(t, "refresh after logout", res, body, http.StatusFound)
}

// TestCutoffSameMillisecond: a per-user cut-off revokes a token minted in
// its own millisecond, and spares one minted in the next.
func TestCutoffSameMillisecond(t *testing.T) {
	clock := testenv.NewClock(time.Now().Truncate(time.Millisecond).Add(500 * time.Microsecond))
	cfg := apiConfig("sqlite:" + t.TempDir() + "/authgate.db")
	s := newAPIServiceAt(t, cfg, clock.Now)
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "bob", browserPassword)
	before := mustLoginAPI(t, h, "bob", browserPassword)
	if _, err := s.accounts.SetRoles(context.Background(), "bob", []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, "token of the cut-off's millisecond", s, before.AccessToken)
	clock.Add(time.Millisecond)
	after := mustLoginAPI(t, h, "bob", browserPassword)
	wantNotRevoked(t, s, after.AccessToken)
}

// expiredCopy is tok, an access token of s, as if issued two hours ago
// with the same key: the same user and session, long expired.
func expiredCopy(t *testing.T, s *Service, tok string) string {
	t.Helper()
	id := mustVerify(t, s, tok)
	past := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	then, err := tokens.New(apiConfig("").Tokens, tokens.Options{Now: func() time.Time { return past }})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := then.Issue(id.UserID, tokens.IssueInput{SessionID: id.SessionID, Username: id.Username, Email: id.Email, Roles: id.Roles})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
