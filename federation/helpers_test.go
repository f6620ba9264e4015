package federation

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

// testSecret is the flow-cookie secret of every test Federation.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// gateHost is the host the tests pretend authgate answers on; the callback
// URL registered at the test providers is https://gate.test/auth/callback/NAME.
const gateHost = "gate.test"

// newFed builds a Federation over providers (defaults applied) and a log
// buffer the test can search for secrets.
func newFed(t *testing.T, providers ...ProviderConfig) (*Federation, *syncBuffer) {
	t.Helper()
	cfg := Config{IdentityProviders: providers}
	cfg.SetDefaults()
	logs := &syncBuffer{}
	f, err := New(cfg, Options{
		Secret: testSecret,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f, logs
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// flow is one browser's sign-in in progress.
type flow struct {
	authorize *url.URL     // where Begin sent the browser
	cookie    *http.Cookie // the flow cookie Begin set
}

// begin runs Begin for provider name as a browser at gateHost would.
func begin(t *testing.T, f *Federation, name, returnTo string) *flow {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://"+gateHost+"/auth/login/"+name, nil)
	if err := f.Begin(w, r, name, returnTo); err != nil {
		t.Fatalf("Begin(%q) = %v", name, err)
	}
	if w.Code != http.StatusFound {
		t.Fatalf("Begin(%q) answered %d; want 302", name, w.Code)
	}
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		t.Fatalf("Begin: Location: %v", err)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Begin set %d cookies; want 1", len(cookies))
	}
	return &flow{authorize: loc, cookie: cookies[0]}
}

// atProvider follows the authorization URL at the provider (which signs
// the user in at once, as mockoidc and the fakes do) and returns the
// callback URL it sends the browser back to.
func atProvider(t *testing.T, authorize *url.URL) *url.URL {
	t.Helper()
	c := &http.Client{CheckRedirect: noRedirects}
	resp, err := c.Get(authorize.String())
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d; want 302", resp.StatusCode)
	}
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("authorize: Location: %v", err)
	}
	return cb
}

// callback delivers the provider's redirect to Callback with cookie (nil:
// none), as the browser would.
func callback(f *Federation, cb *url.URL, cookie *http.Cookie) (*Result, *httptest.ResponseRecorder, error) {
	r := httptest.NewRequest(http.MethodGet, cb.String(), nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	res, err := f.Callback(w, r)
	return res, w, err
}

// signIn is a whole sign-in: Begin, the provider, Callback.
func signIn(t *testing.T, f *Federation, name string) (*Result, error) {
	t.Helper()
	fl := begin(t, f, name, "/after")
	res, _, err := callback(f, atProvider(t, fl.authorize), fl.cookie)
	return res, err
}

// startMock runs a mockoidc provider for the test.
func startMock(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatalf("mockoidc: %v", err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m
}

// mockProvider is the provider config for m.
func mockProvider(m *mockoidc.MockOIDC, name string) ProviderConfig {
	c := m.Config()
	return ProviderConfig{
		Name: name, Type: TypeOIDC, Issuer: c.Issuer,
		ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Scopes: []string{"openid", "email", "profile", "groups"},
	}
}

// wantErr fails the test unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s = %v; want %v", what, err, target)
	}
}

// noSecrets fails the test if any of secrets appears in text.
func noSecrets(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a secret (%.12s…): %s", where, s, text)
		}
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func newRequest(path string) *http.Request {
	return httptest.NewRequest(http.MethodGet, "https://"+gateHost+path, nil)
}
