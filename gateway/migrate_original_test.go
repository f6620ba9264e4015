package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// The migration from the FastAPI original, side by side (issue 12): the
// real original (internal/testenv.StartOriginal, from ../shared/original)
// and an authgate on one PostgreSQL database and one Redis database, as a
// team switching over gradually runs them.

// sideBySide is the original and the authgates sharing its database.
type sideBySide struct {
	orig   *testenv.Original
	dbURL  string
	client *http.Client
}

// startOriginal starts the original on a new database.
func startOriginal(t *testing.T) *sideBySide {
	t.Helper()
	dbURL := testenv.PostgresURL(t)
	orig := testenv.StartOriginal(t, testenv.OriginalOptions{DatabaseURL: dbURL})
	return &sideBySide{orig: orig, dbURL: dbURL, client: &http.Client{Timeout: 30 * time.Second}}
}

// gateway starts an authgate on the original's database and Redis
// database, with YAML added under accounts: and tokens: and at the top
// level (extra), and a protected route /app to builtin:echo; it returns
// the gateway's base URL.
func (s *sideBySide) gateway(t *testing.T, accounts, tokens, extra string) string {
	t.Helper()
	g := newTestGateway(t)
	g.plain = true
	g.dbURL = s.dbURL
	// The original's hashes are passlib's cost 12: verifying one (and
	// rewriting it at cost 10) under -race on a busy machine can take
	// longer than the default 5 s an account operation may.
	g.dbExtra = "  timeout: 1m\n"
	g.accounts = "  bcrypt_cost: 10\n  registration: open\n" + accounts
	g.tokens = "  secret: " + testSecret + "\n" + tokens
	prefix := testenv.RandomName("authgate_test_") + ":"
	g.start(extra + "redis:\n  url: " + s.orig.RedisURL + "\n  key_prefix: \"" + prefix + "\"\n" +
		"routes:\n  - name: app\n    path: /app\n    auth: required\n    login_redirect: false\n    upstream: builtin:echo\n")
	return "http://" + g.httpAddr()
}

// startSideBySide starts the original and one authgate beside it.
func startSideBySide(t *testing.T, accounts, tokens, extra string) (*sideBySide, string) {
	t.Helper()
	s := startOriginal(t)
	return s, s.gateway(t, accounts, tokens, extra)
}

// call sends a JSON body (nil: none) with an optional bearer token and
// returns the status and the body.
func (s *sideBySide) call(t *testing.T, method, url string, body any, token string) (int, []byte) {
	t.Helper()
	req := newJSONRequest(t, method, url, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// want fails the test unless status is want.
func want(t *testing.T, what string, status int, body []byte, wantStatus int) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s = %d %s; want %d", what, status, strings.TrimSpace(string(body)), wantStatus)
	}
}

type pairBody struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// login logs in at base+path and returns the pair, failing unless 200.
func (s *sideBySide) login(t *testing.T, url, username, password string) pairBody {
	t.Helper()
	status, b := s.call(t, http.MethodPost, url, map[string]string{"username": username, "password": password}, "")
	var p pairBody
	if status != http.StatusOK || json.Unmarshal(b, &p) != nil || p.AccessToken == "" {
		t.Fatalf("POST %s as %s = %d %s; want 200 and a pair", url, username, status, b)
	}
	return p
}

func (s *sideBySide) register(t *testing.T, url, username, password string) (int, []byte) {
	t.Helper()
	return s.call(t, http.MethodPost, url, map[string]string{"username": username, "email": username + "@example.com", "password": password}, "")
}

// TestSideBySideOriginal: both services run on one database; users
// registered on either side log in on both; a user who logged in through
// authgate (accounts.password_hash: passlib) still logs in on the
// original; a case variant of an original username is refused by
// authgate's registration; the original's unchanged client passes
// against authgate under auth_api.compat: fastapi.
func TestSideBySideOriginal(t *testing.T) {
	t.Parallel()
	s, base := startSideBySide(t, "  password_hash: passlib\n", "", "")
	const pw = "correct horse battery staple"
	o, gw := s.orig.URL, base+"/auth"

	// Registered on the original while authgate runs: no restart needed.
	status, b := s.register(t, o+"/register", "olive", pw)
	want(t, "original: register olive", status, b, http.StatusCreated)
	s.login(t, gw+"/login", "olive", pw)
	s.login(t, gw+"/login", "OLIVE", pw) // authgate's normalisation
	// olive's hash was rewritten by authgate at that login (cost 12 → 10),
	// in the scheme the original reads.
	s.login(t, o+"/login", "olive", pw)

	// Registered on authgate: logs in on the original too.
	status, b = s.register(t, gw+"/register", "gwen", pw)
	want(t, "authgate: register gwen", status, b, http.StatusCreated)
	s.login(t, o+"/login", "gwen", pw)
	s.login(t, gw+"/login", "gwen", pw)
	s.login(t, o+"/login", "gwen", pw)

	// A case variant of the original's username is refused by authgate.
	status, b = s.register(t, gw+"/register", "Olive", pw)
	want(t, "authgate: register Olive beside the original's olive", status, b, http.StatusConflict)
	// The original (byte-for-byte) takes one; authgate then refuses both
	// accounts at login, and goes on serving everyone else.
	status, b = s.register(t, o+"/register", "GWEN", pw)
	want(t, "original: register GWEN", status, b, http.StatusCreated)
	status, b = s.call(t, http.MethodPost, gw+"/login", map[string]string{"username": "gwen", "password": pw}, "")
	want(t, "authgate: login gwen beside the original's GWEN", status, b, http.StatusUnauthorized)
	s.login(t, gw+"/login", "olive", pw)

	// An unchanged client of the original passes against authgate in
	// compat mode, beside the original, changing only its base URL.
	compat := s.gateway(t, "  password_hash: passlib\n", "", "auth_api:\n  compat: fastapi\n")
	t.Log(testenv.RunOriginalClient(t, compat+"/auth"))
}

// TestSideBySideLegacyTokens: under tokens.legacy the original's access
// token passes an authgate-protected route and its refresh token is
// exchanged, once, for an authgate pair; a token the original logged out
// is refused; without the block, and after accept_until, both are refused.
func TestSideBySideLegacyTokens(t *testing.T) {
	t.Parallel()
	s := startOriginal(t)
	legacy := func(until string) string {
		return "  legacy:\n    secret: \"" + s.orig.Secret + "\"\n    algorithm: HS256\n    accept_until: \"" + until + "\"\n"
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	gw := s.gateway(t, "", legacy(tomorrow), "")
	none := s.gateway(t, "", "", "")
	expired := s.gateway(t, "", legacy(yesterday), "")

	const pw = "correct horse battery staple"
	o := s.orig.URL
	// One user per scenario: the original's tokens are {sub, exp} only, so
	// two logins of one user within a second get the same token string,
	// and a logout of one is a logout of both.
	for _, name := range []string{"lena", "mia", "nora"} {
		status, b := s.register(t, o+"/register", name, pw)
		want(t, "original: register "+name, status, b, http.StatusCreated)
	}
	p := s.login(t, o+"/login", "lena", pw)

	status, b := s.call(t, http.MethodGet, gw+"/app/x", nil, p.AccessToken)
	want(t, "authgate (legacy): /app with the original's access token", status, b, http.StatusOK)
	if !strings.Contains(string(b), `"lena"`) {
		t.Errorf("the upstream saw %s; want the identity of lena", b)
	}
	for name, base := range map[string]string{"no legacy block": none, "after accept_until": expired} {
		status, b = s.call(t, http.MethodGet, base+"/app/x", nil, p.AccessToken)
		want(t, "authgate ("+name+"): /app with the original's access token", status, b, http.StatusUnauthorized)
		status, b = s.call(t, http.MethodPost, base+"/auth/refresh", nil, p.RefreshToken)
		want(t, "authgate ("+name+"): exchange the original's refresh token", status, b, http.StatusUnauthorized)
	}

	var pair pairBody
	status, b = s.call(t, http.MethodPost, gw+"/auth/refresh", nil, p.RefreshToken)
	if status != http.StatusOK || json.Unmarshal(b, &pair) != nil || !strings.HasPrefix(pair.RefreshToken, "agr_") {
		t.Fatalf("authgate (legacy): exchange the original's refresh token = %d %s; want 200 and an authgate pair", status, b)
	}
	status, b = s.call(t, http.MethodGet, gw+"/app/x", nil, pair.AccessToken)
	want(t, "authgate: /app with the exchanged pair's access token", status, b, http.StatusOK)
	status, b = s.call(t, http.MethodPost, gw+"/auth/refresh", nil, p.RefreshToken)
	want(t, "authgate (legacy): exchange the same refresh token again", status, b, http.StatusUnauthorized)

	// What a legacy token costs on a protected route (a database and a
	// Redis round trip) next to an authgate token (none): measured, not
	// asserted.
	legacyAccess := s.login(t, o+"/login", "lena", pw).AccessToken
	for _, c := range []struct{ name, token string }{{"authgate", pair.AccessToken}, {"legacy", legacyAccess}} {
		const n = 200
		start := time.Now()
		for range n {
			if status, b := s.call(t, http.MethodGet, gw+"/app/x", nil, c.token); status != http.StatusOK {
				t.Fatalf("/app with the %s token = %d %s", c.name, status, b)
			}
		}
		t.Logf("%s access token: %v per protected request (%d sequential, client included)", c.name, time.Since(start)/n, n)
	}

	// Logged out on the original: refused by authgate.
	p2 := s.login(t, o+"/login", "mia", pw)
	status, b = s.call(t, http.MethodGet, gw+"/app/x", nil, p2.AccessToken)
	want(t, "authgate (legacy): /app before the original's logout", status, b, http.StatusOK)
	status, b = s.call(t, http.MethodPost, o+"/logout", nil, p2.AccessToken)
	want(t, "original: logout", status, b, http.StatusOK)
	status, b = s.call(t, http.MethodGet, gw+"/app/x", nil, p2.AccessToken)
	want(t, "authgate (legacy): /app with a token the original logged out", status, b, http.StatusUnauthorized)

	// Logged out on authgate: refused by the original too.
	p3 := s.login(t, o+"/login", "nora", pw)
	status, b = s.call(t, http.MethodPost, gw+"/auth/logout", nil, p3.AccessToken)
	want(t, "authgate (legacy): logout with the original's token", status, b, http.StatusOK)
	status, b = s.call(t, http.MethodGet, o+"/me", nil, p3.AccessToken)
	want(t, "original: /me with a token authgate logged out", status, b, http.StatusUnauthorized)
	status, b = s.call(t, http.MethodGet, gw+"/app/x", nil, p3.AccessToken)
	want(t, "authgate (legacy): /app with a token it logged out", status, b, http.StatusUnauthorized)
}
