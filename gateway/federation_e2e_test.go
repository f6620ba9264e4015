package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

// TestFederationLocalLoginOff: with auth_api.local_login false the login
// page offers only the providers and a password login is refused (403);
// a provider's start sends the browser to the provider with PKCE S256,
// state, nonce and the exact callback, and sets a sealed __Host- flow
// cookie that backends never see; a callback with another state shows the
// login page (400) rather than signing anyone in.
func TestFederationLocalLoginOff(t *testing.T) {
	op := testenv.StartOIDCProvider(t)
	b := pStartBackend(t)
	gw, cfgFile := pConfig(t, fmt.Sprintf(`  - name: app
    path: /app
    auth: public
    upstream: %s
`, b.URL()), "auth_api:\n  local_login: false\n"+fedProviders(op.Issuer))
	g := pStartGateway(t, gw, cfgFile)

	page := g.do(t, http.MethodGet, "/auth/login?rd=/app/x", nil, [2]string{"Accept", "text/html"})
	body := string(page.body)
	if page.StatusCode != http.StatusOK || !strings.Contains(body, `id="provider-corp" href="/auth/login/corp?rd=%2Fapp%2Fx"`) ||
		strings.Contains(body, `action="/auth/login"`) {
		t.Errorf("login page with local_login false: %d, provider link %v, local form %v; want 200, the link, no form",
			page.StatusCode, strings.Contains(body, `id="provider-corp"`), strings.Contains(body, `action="/auth/login"`))
	}
	login := g.do(t, http.MethodPost, "/auth/login", strings.NewReader(`{"username":"a","password":"b"}`),
		[2]string{"Content-Type", "application/json"})
	if login.StatusCode != http.StatusForbidden {
		t.Errorf("POST /auth/login with local_login false = %d; want 403", login.StatusCode)
	}

	start := g.do(t, http.MethodGet, "/auth/login/corp?rd=/app/x", nil)
	loc, err := url.Parse(start.Header.Get("Location"))
	if start.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), op.Issuer+"/") {
		t.Fatalf("GET /auth/login/corp = %d to %q; want 302 to the provider", start.StatusCode, start.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" ||
		q.Get("nonce") == "" || q.Get("redirect_uri") != g.base+"/auth/callback/corp" || q.Get("response_type") != "code" {
		t.Errorf("authorization request %v; want code with PKCE S256, state, nonce and redirect_uri %s/auth/callback/corp", q, g.base)
	}
	var flow *http.Cookie
	for _, c := range start.Cookies() {
		if c.Name == "__Host-authgate-federation" {
			flow = c
		}
	}
	if flow == nil || !flow.Secure || !flow.HttpOnly || flow.Path != "/" || flow.Domain != "" || flow.SameSite != http.SameSiteLaxMode {
		t.Fatalf("flow cookie %+v; want __Host-authgate-federation, Secure, HttpOnly, Path=/, SameSite=Lax", flow)
	}
	for _, secret := range []string{q.Get("state"), q.Get("nonce")} {
		if strings.Contains(flow.Value, secret) {
			t.Error("the flow cookie holds state or nonce in clear")
		}
	}

	before := b.count()
	g.do(t, http.MethodGet, "/app/x", nil, [2]string{"Cookie", flow.Name + "=" + flow.Value})
	if seen := b.since(before); len(seen) != 1 || len(seen[0].Cookies) != 0 {
		t.Errorf("backend got cookies %v; want the flow cookie removed", seen)
	}

	cb := g.do(t, http.MethodGet, "/auth/callback/corp?code=c&state=not-"+q.Get("state"), nil,
		[2]string{"Cookie", flow.Name + "=" + flow.Value}, [2]string{"Accept", "text/html"})
	if cb.StatusCode != http.StatusBadRequest || !strings.Contains(string(cb.body), "started in another browser") {
		t.Errorf("callback with another state = %d; want 400 and the login page", cb.StatusCode)
	}
	for _, c := range cb.Cookies() {
		if c.Name == "__Host-authgate" && c.Value != "" {
			t.Error("a callback with another state set a session cookie")
		}
	}
}

// TestFederationIdentitiesAPI: a user signed in through a provider (the
// provider's login form filled by an HTTP client) lists their linked
// identity at GET /auth/me/identities, and cannot unlink it — it is the
// account's only way to sign in (409); an unknown id is 404.
func TestFederationIdentitiesAPI(t *testing.T) {
	op := testenv.StartOIDCProvider(t, testenv.OIDCUser{
		ID: "u-fay", Username: "fay", Password: "fay-at-the-provider", Email: "fay@example.com", EmailVerified: true,
		Claims: map[string]any{"realm_access": map[string]any{"roles": []string{"viewer"}}},
	})
	gw, cfgFile := pConfig(t, "  - path: /\n    upstream: builtin:echo\n", fedProviders(op.Issuer))
	g := pStartGateway(t, gw, cfgFile)
	op.RegisterClient("authgate", fedClientSecret, g.base+"/auth/callback/corp")

	start := g.do(t, http.MethodGet, "/auth/login/corp?rd=/", nil)
	back, err := op.SignIn(start.Header.Get("Location"), "fay", "fay-at-the-provider")
	if err != nil {
		t.Fatalf("signing in at the provider: %v", err)
	}
	var flow string
	for _, c := range start.Cookies() {
		flow = c.Name + "=" + c.Value
	}
	cb := g.do(t, http.MethodGet, back.RequestURI(), nil, [2]string{"Cookie", flow})
	var access string
	for _, c := range cb.Cookies() {
		if c.Name == "__Host-authgate" {
			access = c.Value
		}
	}
	if cb.StatusCode != http.StatusSeeOther || access == "" {
		t.Fatalf("callback = %d, access cookie %v; want 303 with the session cookies", cb.StatusCode, access != "")
	}
	bearer := [2]string{"Authorization", "Bearer " + access}

	var ids []struct {
		ID       int64  `json:"id"`
		Provider string `json:"provider"`
		Issuer   string `json:"issuer"`
		Subject  string `json:"subject"`
		Email    string `json:"email"`
	}
	list := g.do(t, http.MethodGet, "/auth/me/identities", nil, bearer)
	if err := json.Unmarshal(list.body, &ids); list.StatusCode != http.StatusOK || err != nil || len(ids) != 1 ||
		ids[0].Provider != "corp" || ids[0].Issuer != op.Issuer || ids[0].Subject != "u-fay" || ids[0].Email != "fay@example.com" {
		t.Fatalf("GET /auth/me/identities = %d %s; want fay's one identity through corp", list.StatusCode, list.body)
	}
	path := "/auth/me/identities/" + strconv.FormatInt(ids[0].ID, 10)
	if r := g.do(t, http.MethodDelete, path, nil, bearer); r.StatusCode != http.StatusConflict {
		t.Errorf("DELETE %s (the only way in) = %d %s; want 409", path, r.StatusCode, r.body)
	}
	if r := g.do(t, http.MethodDelete, "/auth/me/identities/999999", nil, bearer); r.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE of an identity that is not the user's = %d; want 404", r.StatusCode)
	}
	if r := g.do(t, http.MethodGet, "/auth/me/identities", nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /auth/me/identities without credentials = %d; want 401", r.StatusCode)
	}
}
