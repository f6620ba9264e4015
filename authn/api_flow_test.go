package authn

import (
	"errors"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

// TestAPIFlow runs the whole JSON flow through Handler() on two instances
// sharing one database (and, for PostgreSQL, one Redis): what one instance
// revokes, the other refuses too. Every exchange is validated against the
// OpenAPI document.
func TestAPIFlow(t *testing.T) {
	for name, setup := range map[string]func(t *testing.T) stackConfig{
		"sqlite": func(t *testing.T) stackConfig { return apiConfig(testenv.SQLiteURL(t)) },
		"postgres+redis": func(t *testing.T) stackConfig {
			return withRedis(t, apiConfig(testenv.PostgresURL(t)))
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := setup(t)
			a := newAPIService(t, cfg)
			b := newAPIService(t, cfg)
			ha, hb := checkedHandler(t, a), checkedHandler(t, b)
			testAPIFlow(t, a, b, ha, hb)
			wantCovered(t, ha, "jwks", "login", "logout", "me", "refresh", "register", "wellKnownJwks")
		})
	}
}

func testAPIFlow(t *testing.T, a, b *Service, ha, hb http.Handler) {
	const password = "correct horse battery"

	// Register.
	res, body := serve(t, ha, jsonRequest(http.MethodPost, "/auth/register",
		map[string]any{"username": "alice", "email": "alice@example.com", "password": password, "nickname": "ignored"}))
	wantStatus(t, "register", res, body, http.StatusCreated)
	user := decode[userView](t, body)
	if user.ID == 0 || user.Username != "alice" || user.Email != "alice@example.com" || !user.IsActive || len(user.Roles) != 0 {
		t.Errorf("register = %+v; want active alice@example.com without roles", user)
	}
	if _, err := time.Parse(time.RFC3339, user.CreatedAt); err != nil {
		t.Errorf("created_at %q is not RFC 3339: %v", user.CreatedAt, err)
	}
	wantNoStore(t, "register", res)

	// Login.
	res, body = serve(t, ha, jsonRequest(http.MethodPost, "/auth/login", map[string]string{"username": "alice", "password": password}))
	wantStatus(t, "login", res, body, http.StatusOK)
	wantNoStore(t, "login", res)
	pair := decode[accounts.TokenPair](t, body)
	if pair.TokenType != "bearer" || pair.ExpiresIn < 899 || pair.ExpiresIn > 900 || pair.AccessToken == "" || pair.RefreshToken == "" {
		t.Errorf("login = %+v; want a bearer pair expiring in 900 s", pair)
	}

	// Me, on both instances.
	for name, h := range map[string]http.Handler{"a": ha, "b": hb} {
		res, body = serve(t, h, bearer(apiRequest(http.MethodGet, "/auth/me", "", ""), pair.AccessToken))
		wantStatus(t, "me on "+name, res, body, http.StatusOK)
		wantNoStore(t, "me", res)
		if me := decode[userView](t, body); !reflect.DeepEqual(me, user) {
			t.Errorf("me on %s = %+v; want %+v", name, me, user)
		}
	}

	// Refresh: a new pair; the old refresh token is dead.
	res, body = serve(t, ha, jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}))
	wantStatus(t, "refresh", res, body, http.StatusOK)
	wantNoStore(t, "refresh", res)
	next := decode[accounts.TokenPair](t, body)
	if next.RefreshToken == pair.RefreshToken || next.AccessToken == pair.AccessToken {
		t.Errorf("refresh returned the same tokens")
	}
	// The old one again, on the other instance: reuse. The session is
	// revoked: the new refresh token and the new access token die too.
	res, body = serve(t, hb, bearer(apiRequest(http.MethodPost, "/auth/refresh", "", ""), pair.RefreshToken))
	wantStatus(t, "refresh with the used token", res, body, http.StatusUnauthorized)
	if p := decode[testProblem](t, body); p.Detail != "Refresh token reuse detected; the session has been revoked" {
		t.Errorf("reuse detail = %q", p.Detail)
	}
	res, body = serve(t, ha, jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": next.RefreshToken}))
	wantStatus(t, "refresh with the successor after reuse", res, body, http.StatusUnauthorized)
	wantRejected(t, "access token of a reused session, where the reuse was seen", b, next.AccessToken)
	waitRejected(t, "access token of a reused session, on the other instance", a, next.AccessToken)

	// Log in again and log out: both tokens die at once, on both instances.
	pair = mustLoginAPI(t, ha, "alice", password)
	res, body = serve(t, hb, bearer(jsonRequest(http.MethodPost, "/auth/logout", map[string]string{"refresh_token": pair.RefreshToken}), pair.AccessToken))
	wantStatus(t, "logout", res, body, http.StatusOK)
	if m := decode[logoutResponse](t, body); m.Message != "Successfully logged out" {
		t.Errorf("logout message = %q", m.Message)
	}
	wantClearedCookies(t, "logout", res, b)
	wantRejected(t, "access token after logout, same instance", b, pair.AccessToken)
	res, body = serve(t, hb, bearer(apiRequest(http.MethodGet, "/auth/me", "", ""), pair.AccessToken))
	wantStatus(t, "me after logout", res, body, http.StatusUnauthorized)
	if got := res.Header.Get("WWW-Authenticate"); got != `Bearer realm="authgate", error="invalid_token"` {
		t.Errorf("WWW-Authenticate after logout = %q", got)
	}
	for name, h := range map[string]http.Handler{"a": ha, "b": hb} {
		res, body = serve(t, h, jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": pair.RefreshToken}))
		wantStatus(t, "refresh after logout on "+name, res, body, http.StatusUnauthorized)
	}
	// The other instance hears of the revocation through Redis (or polls
	// the database): it must refuse the access token within the bound
	// waitFor allows.
	waitRejected(t, "access token after logout, other instance", a, pair.AccessToken)

	// Logout everywhere: two sessions, one logout with all=true.
	p1 := mustLoginAPI(t, ha, "alice", password)
	p2 := mustLoginAPI(t, hb, "alice", password)
	res, body = serve(t, ha, bearer(apiRequest(http.MethodPost, "/auth/logout?all=true", "", ""), p1.AccessToken))
	wantStatus(t, "logout all", res, body, http.StatusOK)
	wantRejected(t, "other session's access token after logout all", a, p2.AccessToken)
	waitRejected(t, "other session's access token after logout all, other instance", b, p2.AccessToken)
	res, body = serve(t, hb, jsonRequest(http.MethodPost, "/auth/refresh", map[string]string{"refresh_token": p2.RefreshToken}))
	wantStatus(t, "other session's refresh after logout all", res, body, http.StatusUnauthorized)

	// Logout with nothing but a refresh token.
	p3 := mustLoginAPI(t, ha, "alice", password)
	res, body = serve(t, ha, jsonRequest(http.MethodPost, "/auth/logout", map[string]string{"refresh_token": p3.RefreshToken}))
	wantStatus(t, "logout with the refresh token only", res, body, http.StatusOK)
	wantRejected(t, "access token after a refresh-token logout", a, p3.AccessToken)

	// JWKS at both places.
	for _, path := range []string{"/auth/jwks.json", "/.well-known/jwks.json"} {
		res, body = serve(t, ha, apiRequest(http.MethodGet, path, "", ""))
		wantStatus(t, path, res, body, http.StatusOK)
		if ct, cc := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"); ct != "application/jwk-set+json" || cc != "public, max-age=300" {
			t.Errorf("%s: Content-Type %q, Cache-Control %q", path, ct, cc)
		}
		if string(body) != string(a.tokens.JWKS()) {
			t.Errorf("%s = %s; want %s", path, body, a.tokens.JWKS())
		}
	}
}

// wantCovered fails unless every operation named was validated against
// the document at least once.
func wantCovered(t *testing.T, c *docChecker, ops ...string) {
	t.Helper()
	covered := c.covered()
	for _, op := range ops {
		if !slices.Contains(covered, op) {
			t.Errorf("operation %s was never validated against openapi.json (validated: %v)", op, covered)
		}
	}
}

// wantRejected fails unless s refuses access token tok as revoked.
func wantRejected(t *testing.T, what string, s *Service, tok string) {
	t.Helper()
	_, _, err := s.Authenticate(bearer(apiRequest(http.MethodGet, "/x", "", ""), tok))
	if !errors.Is(err, problem.ErrTokenRevoked) {
		t.Errorf("%s: Authenticate = %v; want %v", what, err, problem.ErrTokenRevoked)
	}
}

// waitRejected waits, within waitFor's bound, until s refuses tok as
// revoked: another instance hears of a revocation through Redis (or by
// polling the database), not in the same instant.
func waitRejected(t *testing.T, what string, s *Service, tok string) {
	t.Helper()
	testenv.WaitFor(t, what, func() bool {
		_, _, err := s.Authenticate(bearer(apiRequest(http.MethodGet, "/x", "", ""), tok))
		return errors.Is(err, problem.ErrTokenRevoked)
	})
}

// wantNoStore checks the RFC 6749 §5.1 headers.
func wantNoStore(t *testing.T, what string, res *http.Response) {
	t.Helper()
	if cc, p := res.Header.Get("Cache-Control"), res.Header.Get("Pragma"); cc != "no-store" || p != "no-cache" {
		t.Errorf("%s: Cache-Control %q, Pragma %q; want no-store, no-cache", what, cc, p)
	}
}
