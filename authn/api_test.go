package authn

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/authgate/authgate/accounts"
)

func TestAPIErrors(t *testing.T) {
	s := sqliteService(t, func(c *stackConfig) { c.AuthAPI.LoginLimit = "100/min" })
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "alice", browserPassword)
	pair := mustLoginAPI(t, h, "alice", browserPassword)
	register := func(fields string) *http.Request {
		return apiRequest(http.MethodPost, "/auth/register", "application/json", "{"+fields+"}")
	}
	const ok = `"username":"bob","email":"bob@example.com","password":"correct horse battery"`
	twoAuth := bearer(apiRequest(http.MethodGet, "/auth/me", "", ""), pair.AccessToken)
	twoAuth.Header.Add("Authorization", "Bearer "+pair.AccessToken)

	tests := []struct {
		name       string
		req        *http.Request
		want       int
		wantDetail string // a substring of detail
		wantHeader map[string]string
	}{
		{"fail-register-missing-username", register(`"email":"b@example.com","password":"correct horse battery"`), 422, "username: field required", nil},
		{"fail-register-null-username", register(`"username":null,"email":"b@example.com","password":"correct horse battery"`), 422, "username: field required", nil},
		{"fail-register-missing-email", register(`"username":"bob","password":"correct horse battery"`), 422, "email: field required", nil},
		{"fail-register-missing-password", register(`"username":"bob","email":"bob@example.com"`), 422, "password: field required", nil},
		{"fail-register-username-number", register(`"username":5,"email":"bob@example.com","password":"correct horse battery"`), 422, "username: must be a string", nil},
		{"fail-register-sets-roles", register(ok + `,"roles":["admin"]`), 422, "roles: is assigned by the server", nil},
		{"fail-register-sets-roles-case", register(ok + `,"Roles":["admin"]`), 422, "roles: is assigned by the server", nil},
		{"fail-register-sets-id", register(ok + `,"id":1`), 422, "id: is assigned by the server", nil},
		{"fail-register-sets-is-active", register(ok + `,"is_active":false`), 422, "is_active: is assigned by the server", nil},
		{"fail-register-bad-email", register(`"username":"bob","email":"not-an-email","password":"correct horse battery"`), 422, "email", nil},
		{"fail-register-short-password", register(`"username":"bob","email":"bob@example.com","password":"short"`), 422, "password", nil},
		{"fail-register-taken-username", register(`"username":"ALICE","email":"other@example.com","password":"correct horse battery"`), 409, "Username already registered", nil},
		{"fail-register-taken-email", register(`"username":"bob","email":"alice@example.com","password":"correct horse battery"`), 409, "Email already registered", nil},
		{"fail-register-malformed", apiRequest(http.MethodPost, "/auth/register", "application/json", `{"username": "bob",}`), 400, "invalid JSON at byte", nil},
		{"fail-register-truncated", apiRequest(http.MethodPost, "/auth/register", "application/json", `{"username": "bob"`), 400, "ends too early", nil},
		{"fail-register-trailing", apiRequest(http.MethodPost, "/auth/register", "application/json", `{}{}`), 400, "unexpected data after the JSON object", nil},
		{"fail-register-array", apiRequest(http.MethodPost, "/auth/register", "application/json", `[1]`), 400, "must be a JSON object", nil},
		{"fail-register-empty", apiRequest(http.MethodPost, "/auth/register", "application/json", ``), 400, "empty", nil},
		{"fail-register-text", apiRequest(http.MethodPost, "/auth/register", "text/plain", `{}`), 415, "Send application/json", nil},
		{"fail-register-form", formRequest("/auth/register", url.Values{"username": {"bob"}}), 415, "Send application/json", nil},
		{"fail-register-no-content-type", apiRequest(http.MethodPost, "/auth/register", "", `{}`), 415, "Send application/json", nil},
		{"fail-register-latin1", apiRequest(http.MethodPost, "/auth/register", "application/json; charset=latin1", `{}`), 415, "Send application/json", nil},
		{"fail-register-too-large", register(`"username":"` + strings.Repeat("a", maxBodyBytes) + `"`), 413, "Request body too large", nil},
		{"fail-login-wrong-password", jsonRequest(http.MethodPost, "/auth/login", map[string]string{"username": "alice", "password": "wrong password!"}), 401, "Incorrect username or password", nil},
		{"fail-login-unknown-user", jsonRequest(http.MethodPost, "/auth/login", map[string]string{"username": "nobody", "password": "wrong password!"}), 401, "Incorrect username or password", nil},
		{"fail-login-missing-password", jsonRequest(http.MethodPost, "/auth/login", map[string]string{"username": "alice"}), 422, "password: field required", nil},
		{"fail-login-no-body", apiRequest(http.MethodPost, "/auth/login", "", ""), 415, "Send application/json", nil},
		{"fail-login-cross-site", withHeader(jsonRequest(http.MethodPost, "/auth/login", map[string]string{"username": "alice", "password": browserPassword}), "Sec-Fetch-Site", "cross-site"), 403, "Cross-site request refused", nil},
		{"fail-login-foreign-origin", withHeader(jsonRequest(http.MethodPost, "/auth/login", map[string]string{"username": "alice", "password": browserPassword}), "Origin", "https://evil.example"), 403, "Cross-site request refused", nil},
		{"fail-me-no-token", apiRequest(http.MethodGet, "/auth/me", "", ""), 401, "Not authenticated", map[string]string{"WWW-Authenticate": `Bearer realm="authgate"`}},
		{"fail-me-garbage-token", bearer(apiRequest(http.MethodGet, "/auth/me", "", ""), "abc.def.ghi"), 401, "Could not validate credentials", map[string]string{"WWW-Authenticate": `Bearer realm="authgate", error="invalid_token"`}},
		{"fail-me-refresh-token-as-access", bearer(apiRequest(http.MethodGet, "/auth/me", "", ""), pair.RefreshToken), 401, "Could not validate credentials", nil},
		{"fail-me-two-authorization", twoAuth, 400, "More than one credential", nil},
		{"fail-me-basic", withHeader(apiRequest(http.MethodGet, "/auth/me", "", ""), "Authorization", "Basic YTpi"), 400, "Bearer <token>", nil},
		{"fail-refresh-none", apiRequest(http.MethodPost, "/auth/refresh", "", ""), 401, "Not authenticated", nil},
		{"fail-refresh-unknown", jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": "agr_nope"}), 401, "Invalid or expired refresh token", nil},
		{"fail-refresh-access-token", jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": pair.AccessToken}), 401, "Invalid or expired refresh token", nil},
		{"fail-refresh-empty", jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": ""}), 422, "refresh_token: must not be empty", nil},
		{"fail-refresh-two-tokens", bearer(jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), "agr_other"), 400, "More than one credential", nil},
		{"fail-refresh-wrong-grant", formRequest("/auth/refresh", url.Values{"grant_type": {"password"}, "refresh_token": {pair.RefreshToken}}), 422, `grant_type: must be "refresh_token"`, nil},
		{"fail-refresh-cross-site", withHeader(jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}), "Sec-Fetch-Site", "cross-site"), 403, "Cross-site request refused", nil},
		{"fail-logout-none", apiRequest(http.MethodPost, "/auth/logout", "", ""), 401, "Not authenticated", nil},
		{"fail-logout-all-bad", bearer(apiRequest(http.MethodPost, "/auth/logout?all=maybe", "", ""), pair.AccessToken), 422, "all: must be true or false", nil},
		{"fail-logout-cross-site", withHeader(bearer(apiRequest(http.MethodPost, "/auth/logout", "", ""), pair.AccessToken), "Sec-Fetch-Site", "cross-site"), 403, "Cross-site request refused", nil},
		{"fail-logout-foreign-origin", withHeader(bearer(apiRequest(http.MethodPost, "/auth/logout", "", ""), pair.AccessToken), "Origin", "https://evil.example"), 403, "Cross-site request refused", nil},
		{"fail-method-not-allowed", apiRequest(http.MethodPut, "/auth/login", "", ""), 405, "Method not allowed", map[string]string{"Allow": "GET, HEAD, POST"}},
		{"fail-method-not-allowed-me", apiRequest(http.MethodPost, "/auth/me", "", ""), 405, "Method not allowed", map[string]string{"Allow": "GET, HEAD"}},
		{"fail-not-found", apiRequest(http.MethodGet, "/auth/nope", "", ""), 404, "Not found", nil},
		{"fail-not-found-prefix", apiRequest(http.MethodGet, "/auth", "", ""), 404, "Not found", nil},
		{"fail-unknown-docs-asset", apiRequest(http.MethodGet, "/auth/docs/index.js", "", ""), 404, "Not found", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := serve(t, h, tt.req)
			wantStatus(t, tt.name, res, body, tt.want)
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", cc)
			}
			p := decode[testProblem](t, body)
			if p.Status != tt.want || !strings.Contains(p.Detail, tt.wantDetail) {
				t.Errorf("problem = %+v; want status %d, detail containing %q", p, tt.want, tt.wantDetail)
			}
			if tt.want == http.StatusUnprocessableEntity {
				field, _, _ := strings.Cut(tt.wantDetail, ":")
				if len(p.Errors) != 1 || len(p.Errors[0].Loc) != 2 || p.Errors[0].Loc[1] != field {
					t.Errorf("errors = %+v; want one naming %q", p.Errors, field)
				}
			}
			for k, v := range tt.wantHeader {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s = %q; want %q", k, got, v)
				}
			}
			if strings.Contains(string(body), browserPassword) || strings.Contains(string(body), pair.RefreshToken) {
				t.Errorf("the error repeats a password or token: %s", body)
			}
		})
	}
	// No failed registration created an account.
	users, err := s.accounts.ListUsers(context.Background())
	if err != nil || len(users) != 1 {
		t.Errorf("ListUsers = %d users, %v; want alice alone", len(users), err)
	}
}

func withHeader(r *http.Request, k, v string) *http.Request {
	r.Header.Set(k, v)
	return r
}

func TestAPIRegistrationClosed(t *testing.T) {
	s := sqliteService(t, func(c *stackConfig) { c.Accounts.Registration = "closed" })
	h := checkedHandler(t, s)
	res, body := serve(t, h, jsonRequest(http.MethodPost, "/auth/register",
		map[string]string{"username": "bob", "email": "bob@example.com", "password": browserPassword}))
	wantStatus(t, "register while closed", res, body, http.StatusForbidden)
	if p := decode[testProblem](t, body); p.Detail != "Registration is closed" {
		t.Errorf("detail = %q; want Registration is closed", p.Detail)
	}
}

func TestLoginFormOAuth2(t *testing.T) {
	s := sqliteService(t, nil)
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "alice", browserPassword)
	tests := []struct {
		name       string
		form       string
		want       int
		wantDetail string
	}{
		{"ok-password-grant", "grant_type=password&username=alice&password=correct+horse+battery&scope=read+write&client_id=cli", 200, ""},
		{"ok-no-grant-type", "username=alice&password=correct+horse+battery", 200, ""},
		{"fail-other-grant", "grant_type=client_credentials&username=alice&password=correct+horse+battery", 422, `grant_type: must be "password"`},
		{"fail-repeated-field", "username=alice&username=bob&password=correct+horse+battery", 400, `form field "username" is repeated`},
		{"fail-bad-escape", "username=%zz&password=x", 400, "the form cannot be parsed"},
		{"fail-missing-username", "password=correct+horse+battery", 422, "username: field required"},
		{"fail-wrong-password", "username=alice&password=nope", 401, "Incorrect username or password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := serve(t, h, apiRequest(http.MethodPost, "/auth/login", "application/x-www-form-urlencoded", tt.form))
			wantStatus(t, "form login", res, body, tt.want)
			if tt.want == http.StatusOK {
				wantNoStore(t, "form login", res)
				if p := decode[accounts.TokenPair](t, body); p.TokenType != "bearer" || p.AccessToken == "" {
					t.Errorf("form login = %+v", p)
				}
				if len(res.Cookies()) != 0 {
					t.Errorf("an API login set cookies: %v", res.Cookies())
				}
				return
			}
			if p := decode[testProblem](t, body); !strings.Contains(p.Detail, tt.wantDetail) {
				t.Errorf("detail = %q; want %q", p.Detail, tt.wantDetail)
			}
		})
	}
}

func TestLoginThrottleByClientIP(t *testing.T) {
	s := sqliteService(t, func(c *stackConfig) { c.AuthAPI.LoginLimit = "2/min" })
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "alice", browserPassword)
	login := func(ip, username, password string) (*http.Response, []byte) {
		r := jsonRequest(http.MethodPost, "/auth/login", map[string]string{"username": username, "password": password})
		r.RemoteAddr = "192.0.2.99:4000" // the gateway's peer; the client is ip
		return serve(t, h, WithClientIP(r, ip))
	}
	// Two failures from one address, each against another username.
	for _, u := range []string{"nobody1", "nobody2"} {
		res, body := login("198.51.100.7", u, "wrong password!")
		wantStatus(t, "failure "+u, res, body, http.StatusUnauthorized)
	}
	// That address is throttled, even for a right password…
	res, body := login("198.51.100.7", "alice", browserPassword)
	wantStatus(t, "right password from the throttled address", res, body, http.StatusTooManyRequests)
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q; want seconds", ra)
	}
	if p := decode[testProblem](t, body); !strings.Contains(p.Detail, "too many failed login attempts") {
		t.Errorf("detail = %q", p.Detail)
	}
	// …another is not: the address came from WithClientIP, not RemoteAddr.
	res, body = login("203.0.113.5", "alice", browserPassword)
	wantStatus(t, "right password from another address", res, body, http.StatusOK)
}

func TestClientIP(t *testing.T) {
	r := apiRequest(http.MethodGet, "/", "", "")
	r.RemoteAddr = "[2001:db8::1]:443"
	if got := clientIP(r); got != "2001:db8::1" {
		t.Errorf("clientIP without WithClientIP = %q; want the peer 2001:db8::1", got)
	}
	if got := clientIP(WithClientIP(r, "198.51.100.7")); got != "198.51.100.7" {
		t.Errorf("clientIP(WithClientIP(…, 198.51.100.7)) = %q", got)
	}
}

// deadlineBody is a request body whose read is cut off by the read
// deadline the auth API sets.
type deadlineBody struct{}

func (deadlineBody) Read([]byte) (int, error) {
	return 0, fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)
}

// TestAPIBodyTimeout: a body that does not arrive within the body timeout
// is answered 408 by the one error table (internal/problem). The tests'
// own copy of the table, which this package once kept, lacked the row and
// answered 500.
func TestAPIBodyTimeout(t *testing.T) {
	s := sqliteService(t, nil)
	r := apiRequest(http.MethodPost, "/auth/login", "application/json", "")
	r.Body = io.NopCloser(deadlineBody{})
	res, body := serve(t, s.Handler(), r)
	wantStatus(t, "login with a body cut off by the deadline", res, body, http.StatusRequestTimeout)
	if p := decode[testProblem](t, body); p.Detail != "Request body not received in time" {
		t.Errorf("408 detail %q; want %q", p.Detail, "Request body not received in time")
	}
}
