package authn

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/store"
	"github.com/authgate/authgate/tokens"
	"golang.org/x/crypto/bcrypt"
)

// testProblem is the problem document internal/problem writes.
type testProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Loc []string `json:"loc"`
		Msg string   `json:"msg"`
	} `json:"errors,omitempty"`
}

// testSecret is an HS256 secret for tests only.
const testSecret = "q3Xv9LmT2pWz8RkN5bYc7HdJ4fGs6AeU"

// stackConfig is the configuration of an auth API and of the account side
// under it, as the gateway's config composes them.
type stackConfig struct {
	Database store.Config
	Redis    denylist.Config
	Tokens   tokens.Config
	Accounts accounts.Config
	AuthAPI  Config
}

// apiConfig is a complete, defaulted configuration for one test on dbURL.
func apiConfig(dbURL string) stackConfig {
	return stackConfig{
		// A request's deadline is database.timeout (5 s by default), and a
		// login hashes with bcrypt: under -race on two cores shared with
		// other packages' tests, a login that waits for the hashing bound
		// can pass 5 s and be answered 503 (TestBrowserLoginFailures did,
		// in a full run). These tests wait for the machine, not for the
		// deadline; the ones about the deadline set their own.
		Database: store.Config{URL: dbURL, Timeout: conf.Duration(time.Minute)},
		Redis:    denylist.Config{OnError: denylist.OnErrorDeny, KeyPrefix: "authgate:"},
		Tokens: tokens.Config{
			Issuer: "authgate", Audience: "authgate", Algorithm: tokens.AlgHS256, Secret: testSecret,
			AccessTTL: conf.Duration(15 * time.Minute), RefreshTTL: conf.Duration(168 * time.Hour),
		},
		Accounts: accounts.Config{Registration: "open", BcryptCost: 10, MinPasswordLength: 8},
		// The tests register many users from httptest's one address.
		AuthAPI: Config{Prefix: "/auth", CookieName: "authgate", LoginLimit: "5/min", RegisterLimit: "1000/hour"},
	}
}

// withRedis points cfg at the test Redis under a prefix of this test's
// own, whose keys are deleted when it ends.
func withRedis(t *testing.T, cfg stackConfig) stackConfig {
	t.Helper()
	cfg.Redis.URL, cfg.Redis.KeyPrefix = testRedis(t)
	return cfg
}

// newAPIService builds an auth API over an account service opened from cfg
// that hashes passwords at bcrypt's minimum cost, with the account
// service's Run going and its denylist ready.
func newAPIService(t *testing.T, cfg stackConfig) *Service {
	t.Helper()
	return newAPIServiceAt(t, cfg, nil)
}

// newAPIServiceAt is newAPIService on the clock now (nil: time.Now).
func newAPIServiceAt(t *testing.T, cfg stackConfig, now func() time.Time) *Service {
	t.Helper()
	acc, err := accounts.Open(context.Background(), accounts.Sections{
		Database: cfg.Database, Redis: cfg.Redis, Tokens: cfg.Tokens, Accounts: cfg.Accounts,
		LoginLimit: cfg.AuthAPI.LoginLimit, RegisterLimit: cfg.AuthAPI.RegisterLimit,
	}, accounts.Options{Logger: testenv.Logger(t), DataDir: t.TempDir(), Now: now, HashCost: bcrypt.MinCost})
	if err != nil {
		t.Fatalf("accounts.Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { acc.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		acc.Close()
	})
	s, err := New(cfg.AuthAPI, acc, Options{
		Logger: testenv.Logger(t), RequestTimeout: cfg.Database.Timeout.D(), BodyTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	testenv.WaitFor(t, "denylist ready", func() bool { return ready(acc, "denylist") })
	return s
}

// ready reports whether acc's readiness check name passes.
func ready(acc *accounts.Service, name string) bool {
	for _, c := range acc.ReadinessChecks() {
		if c.Name == name {
			return c.Check(context.Background()) == nil
		}
	}
	return false
}

// sqliteService is a Service on a fresh SQLite database with the embedded
// denylist.
func sqliteService(t *testing.T, edit func(*stackConfig)) *Service {
	t.Helper()
	cfg := apiConfig(testenv.SQLiteURL(t))
	if edit != nil {
		edit(&cfg)
	}
	return newAPIService(t, cfg)
}

// testHost is the origin the tests' requests go to.
const testHost = "auth.example.com"

// apiRequest builds a request to the API. body is sent with contentType
// when contentType is not empty.
func apiRequest(method, target, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, "https://"+testHost+target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// jsonRequest is apiRequest with a JSON body.
func jsonRequest(method, target string, v any) *http.Request {
	b, _ := json.Marshal(v)
	return apiRequest(method, target, "application/json", string(b))
}

// formRequest is apiRequest with a form body.
func formRequest(target string, form url.Values) *http.Request {
	return apiRequest(http.MethodPost, target, "application/x-www-form-urlencoded", form.Encode())
}

// serve runs r through h and returns the response with its body read.
func serve(t *testing.T, h http.Handler, r *http.Request) (*http.Response, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, body
}

// decode unmarshals a JSON answer or fails the test.
func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// wantStatus fails the test when res has another status.
func wantStatus(t *testing.T, what string, res *http.Response, body []byte, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s: status %d; want %d; body %s", what, res.StatusCode, want, body)
	}
}

// mustRegisterAPI registers a user through the API.
func mustRegisterAPI(t *testing.T, h http.Handler, username, password string) {
	t.Helper()
	res, body := serve(t, h, jsonRequest(http.MethodPost, "/auth/register",
		map[string]string{"username": username, "email": username + "@example.com", "password": password}))
	wantStatus(t, "register "+username, res, body, http.StatusCreated)
}

// mustLoginAPI logs in through the JSON API and returns the pair.
func mustLoginAPI(t *testing.T, h http.Handler, username, password string) accounts.TokenPair {
	t.Helper()
	res, body := serve(t, h, jsonRequest(http.MethodPost, "/auth/login", map[string]string{"username": username, "password": password}))
	wantStatus(t, "login "+username, res, body, http.StatusOK)
	return decode[accounts.TokenPair](t, body)
}

// bearer returns r with an Authorization: Bearer header.
func bearer(r *http.Request, token string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// cookieHeader returns r with a Cookie header made of cookies.
func withCookies(r *http.Request, cookies ...*http.Cookie) *http.Request {
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

// cookieNamed returns the Set-Cookie of res named name, or nil.
func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
