package provider

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
	jose "github.com/go-jose/go-jose/v4"
)

const (
	webSecret     = "w3b-s3cret-0123456789-abcdefghijklmnop"
	serviceSecret = "s3rvice-s3cret-0123456789-abcdefghijkl"
	legacySecret  = "l3gacy-s3cret-0123456789-abcdefghijklm"
	webRedirect   = "https://app.example.test/callback"
	spaRedirect   = "http://127.0.0.1:8765/cb"
	thirdRedirect = "https://third.example.test/cb"
	testKID       = "test-kid"
)

// harness is a provider on an httptest TLS server, over fakes of its
// interfaces, with the JWKS the gateway would serve beside it.
type harness struct {
	srv      *httptest.Server
	p        *Provider
	accounts *fakeAccounts
	codes    *MemoryCodes
	consents *MemoryConsents
	clock    *testenv.OffsetClock
	issuer   string
	alice    *User
}

func testClients(t *testing.T) []ClientConfig {
	t.Helper()
	hash, err := thirdHash()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Enabled: true, Clients: []ClientConfig{
		{ID: "webapp", Secret: webSecret, RedirectURIs: []string{webRedirect}, FirstParty: true},
		{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}, FirstParty: true},
		{ID: "thirdparty", Secret: string(hash), RedirectURIs: []string{thirdRedirect}},
		{ID: "service", Secret: serviceSecret, Grants: []string{GrantClientCredentials}, Roles: []string{"reports"}, Scopes: []string{"reports.read", "openid"}},
		{ID: "legacy", Secret: legacySecret, Grants: []string{GrantPassword, GrantRefreshToken}},
	}}
	cfg.SetDefaults()
	return cfg.Clients
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	h := &harness{srv: srv, clock: &testenv.OffsetClock{}, issuer: "https://" + srv.Listener.Addr().String()}
	cfg := Config{Enabled: true, Clients: testClients(t)}
	if err := cfg.Validate(TokenSettings{Issuer: h.issuer, Audience: "authgate", Algorithm: "ES256"}); err != nil {
		t.Fatalf("test config: %v", err)
	}
	clients, err := NewStaticClients(cfg.Clients)
	if err != nil {
		t.Fatal(err)
	}
	h.accounts = newFakeAccounts(h.clock, clients)
	h.alice = h.accounts.addUser("42", "alice", "alice-password", "admin")
	h.codes = NewMemoryCodes(time.Hour)
	h.codes.now = h.clock.Now
	h.consents = NewMemoryConsents()
	h.p, err = newProvider(cfg, Options{
		Issuer:   h.issuer,
		Prefix:   "/auth",
		Key:      SigningKey{Signer: key, Algorithm: "ES256", KeyID: testKID},
		Clients:  clients,
		Codes:    h.codes,
		Consents: h.consents,
		Accounts: h.accounts,
		Tokens:   h.accounts,
		Browser:  h.accounts,
	}, func(p *Provider) { p.now = h.clock.Now })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: testKID, Algorithm: "ES256", Use: "sig"}}})
	mux := http.NewServeMux()
	for _, pat := range h.p.Patterns() {
		mux.Handle(pat, h.p.Handler())
	}
	mux.HandleFunc("GET /auth/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	})
	srv.Config.Handler = mux
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return h
}

// client is an HTTP client that trusts the server and never follows a
// redirect, so each answer can be looked at.
func (h *harness) client() *http.Client {
	c := *h.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// get requests path (with query) as a browser with cookie would.
func (h *harness) get(t *testing.T, path string, cookie *http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.issuer+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return h.do(t, req)
}

func (h *harness) do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := h.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// post sends a form, with Basic client credentials when user is set.
func (h *harness) post(t *testing.T, path string, form url.Values, user, pass string, cookie *http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return h.do(t, req)
}

// jsonBody decodes a JSON answer.
func jsonBody(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: body %q is not JSON: %v", resp.Request.URL.Path, b, err)
	}
	return m
}

// wantError checks an RFC 6749 §5.2 error answer.
func wantError(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	body := jsonBody(t, resp)
	if resp.StatusCode != status || body["error"] != code {
		t.Fatalf("%s %s = %d %v; want %d error %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status, code)
	}
}

// authorizeQuery is a valid authorization request for client.
func authorizeQuery(client, redirectURI, challenge string) url.Values {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {client},
		"redirect_uri":  {redirectURI},
		"scope":         {"openid profile email roles"},
		"state":         {"st-123"},
		"nonce":         {"n-456"},
	}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return q
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-long-enough"

// redirected returns the query of the redirect to redirectURI, failing
// unless the answer is exactly that.
func redirected(t *testing.T, resp *http.Response, redirectURI string) url.Values {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, redirectURI+"?") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("authorize = %d Location %q %s; want a redirect to %s", resp.StatusCode, loc, b, redirectURI)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// code runs the authorization request q for a signed-in alice and returns
// the code.
func (h *harness) code(t *testing.T, q url.Values, cookie *http.Cookie) string {
	t.Helper()
	got := redirected(t, h.get(t, "/auth/oauth2/authorize?"+q.Encode(), cookie), q.Get("redirect_uri"))
	if got.Get("code") == "" || got.Get("iss") != h.issuer || got.Get("state") != q.Get("state") {
		t.Fatalf("authorization response %v; want code, iss %s and state %s", got, h.issuer, q.Get("state"))
	}
	return got.Get("code")
}

// exchange redeems code for client (Basic auth when secret is set).
func (h *harness) exchange(t *testing.T, code, client, secret, redirectURI, verifier string) *http.Response {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	if secret == "" {
		form.Set("client_id", client)
		client = ""
	}
	return h.post(t, "/auth/oauth2/token", form, client, secret, nil)
}

// wantNothingIssued fails when a session was opened since before.
func (h *harness) wantNothingIssued(t *testing.T, before int) {
	t.Helper()
	if n := h.accounts.sessionCount(); n != before {
		t.Fatalf("%d sessions were opened; want none", n-before)
	}
}
