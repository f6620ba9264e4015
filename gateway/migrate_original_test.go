package gateway

import (
	"bytes"
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

// sideBySide is the original and an authgate sharing its database.
type sideBySide struct {
	orig   *testenv.Original
	g      *testGateway
	gw     string // the gateway's base URL, http://127.0.0.1:PORT
	dbURL  string
	prefix string // redis.key_prefix of the gateway
	client *http.Client
}

// startSideBySide starts the original on a new database, then an
// authgate on the same database and Redis database, with the accounts
// section accounts (YAML under accounts:) and extra top-level YAML
// (tokens: and auth_api: go in tokensExtra and extra).
func startSideBySide(t *testing.T, accounts, tokensExtra, extra string) *sideBySide {
	t.Helper()
	dbURL := testenv.PostgresURL(t)
	orig := testenv.StartOriginal(t, testenv.OriginalOptions{DatabaseURL: dbURL})
	s := &sideBySide{orig: orig, dbURL: dbURL, prefix: testenv.RandomName("authgate_test_") + ":",
		client: &http.Client{Timeout: 30 * time.Second}}
	s.g = newTestGateway(t)
	s.g.plain = true
	s.g.dbURL = dbURL
	s.g.accounts = "  bcrypt_cost: 10\n  registration: open\n" + accounts
	s.g.tokens = "  secret: " + testSecret + "\n" + tokensExtra
	s.g.start(extra + "redis:\n  url: " + orig.RedisURL + "\n  key_prefix: \"" + s.prefix + "\"\n" +
		"routes:\n  - name: app\n    path: /app\n    auth: required\n    login_redirect: false\n    upstream: builtin:echo\n")
	s.gw = "http://" + s.g.httpAddr()
	return s
}

// call sends a JSON body (nil: none) with an optional bearer token and
// returns the status and the body.
func (s *sideBySide) call(t *testing.T, method, url string, body any, token string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
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
// authgate's registration.
func TestSideBySideOriginal(t *testing.T) {
	t.Parallel()
	s := startSideBySide(t, "  password_hash: passlib\n", "", "")
	const pw = "correct horse battery staple"
	o, gw := s.orig.URL, s.gw+"/auth"

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
}
