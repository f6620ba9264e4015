package testenv

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartOAuth2Proxy: the proxy builds, discovers an issuer over TLS
// with the CA it is given, answers /ping, and sends an unauthenticated
// browser to the issuer's authorization endpoint with PKCE.
func TestStartOAuth2Proxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds oauth2-proxy")
	}
	var issuer string
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                issuer,
			"authorization_endpoint":                issuer + "/authorize",
			"token_endpoint":                        issuer + "/token",
			"jwks_uri":                              issuer + "/jwks.json",
			"userinfo_endpoint":                     issuer + "/userinfo",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	}))
	t.Cleanup(idp.Close)
	issuer = idp.URL
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "app")
	}))
	t.Cleanup(app.Close)

	p := StartOAuth2Proxy(t, OAuth2ProxyConfig{
		Issuer: issuer, CAFile: ca, ClientID: "oauth2-proxy", ClientSecret: "not-used-in-this-test", Upstream: app.URL,
	})
	resp, err := http.Get(p.URL + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "OK" {
		t.Fatalf("GET /ping = %d %q; want 200 OK", resp.StatusCode, body)
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(p.URL + "/oauth2/start?rd=/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), issuer+"/authorize?") ||
		q.Get("code_challenge_method") != "S256" || q.Get("client_id") != "oauth2-proxy" || q.Get("redirect_uri") != p.RedirectURL {
		t.Fatalf("GET /oauth2/start = %d %q; want a PKCE authorization request to %s for %s", resp.StatusCode, loc, issuer, p.RedirectURL)
	}
}
