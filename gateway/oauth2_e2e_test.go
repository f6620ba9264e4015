package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/provider"
)

const (
	oWebRedirect = "https://app.example.test/callback"
	oSPARedirect = "http://127.0.0.1:8765/cb"
)

// oClients are the clients of the negative tests and of client_credentials.
func oClients(string) string {
	return oClient("webapp", false, true, []string{"authorization_code", "refresh_token"}, []string{oWebRedirect}, nil) +
		oClient("other", false, true, []string{"authorization_code"}, []string{"https://other.example.test/cb"}, nil) +
		oClient("spa", true, true, []string{"authorization_code"}, []string{oSPARedirect}, nil) +
		oClient("svc", false, false, []string{"client_credentials"}, nil, []string{"reports"}) +
		oClient("plain", false, false, []string{"client_credentials"}, nil, nil) +
		oClient("legacy", false, false, []string{"password", "refresh_token"}, nil, nil)
}

// TestOAuth2ClientCredentialsPassesRoleRoute: a service account's token,
// from the token endpoint, is an authgate access token (typ at+jwt) that
// a role-protected route accepts like a user's, with the client as the
// user the upstream is told about; a client without the role gets 403.
func TestOAuth2ClientCredentialsPassesRoleRoute(t *testing.T) {
	b := newBackend(t, "reports")
	o := oStart(t, oClients, "  - {name: reports, path: /reports, auth: required, roles: [reports], upstream: "+b.URL+"}\n", "")

	disc := o.send(t, mustRequest(t, http.MethodGet, o.base+"/.well-known/openid-configuration"))
	if disc.status != http.StatusOK || disc.str("issuer") != o.issuer || disc.str("token_endpoint") != o.issuer+"/auth/oauth2/token" {
		t.Fatalf("discovery = %d %s; want issuer %s", disc.status, disc.raw, o.issuer)
	}

	tok := o.post(t, "/auth/oauth2/token", "svc", oSecret, url.Values{"grant_type": {"client_credentials"}})
	access := tok.str("access_token")
	if tok.status != http.StatusOK || access == "" || tok.body["refresh_token"] != nil || tok.body["id_token"] != nil {
		t.Fatalf("client_credentials = %d %s; want an access token only", tok.status, tok.raw)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(access, ".")[0])
	var h struct{ Typ string }
	json.Unmarshal(header, &h)
	if h.Typ != "at+jwt" {
		t.Errorf("token typ = %q; want at+jwt", h.Typ)
	}
	resp := o.do(t, http.MethodGet, "/reports/q1", nil, [2]string{"Authorization", "Bearer " + access})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /reports with the service token = %d %s; want 200", resp.StatusCode, resp.body)
	}
	if got := b.last(t).Header; got.Get("X-Auth-User-Id") != "svc" || got.Get("X-Auth-Roles") != "reports" {
		t.Errorf("upstream saw user %q roles %q; want svc, reports", got.Get("X-Auth-User-Id"), got.Get("X-Auth-Roles"))
	}

	plain := o.post(t, "/auth/oauth2/token", "plain", oSecret, url.Values{"grant_type": {"client_credentials"}})
	resp = o.do(t, http.MethodGet, "/reports/q1", nil, [2]string{"Authorization", "Bearer " + plain.str("access_token")})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /reports with a token without the role = %d; want 403", resp.StatusCode)
	}

	// A client registered with `authgate client add` while the gateway
	// runs is usable at once, and gone once removed.
	var secret string
	pAdmin(t, o.cfgFile, func(ctx context.Context, admin *accounts.Service) (err error) {
		secret, err = admin.OAuth2Clients().Add(ctx, provider.ClientConfig{ID: "cli-job",
			Grants: []string{"client_credentials"}, Roles: []string{"reports"}})
		return err
	})
	cli := o.post(t, "/auth/oauth2/token", "cli-job", secret, url.Values{"grant_type": {"client_credentials"}})
	resp = o.do(t, http.MethodGet, "/reports/q1", nil, [2]string{"Authorization", "Bearer " + cli.str("access_token")})
	if cli.status != http.StatusOK || resp.StatusCode != http.StatusOK {
		t.Fatalf("a CLI-registered client: token %d %s, route %d; want 200, 200", cli.status, cli.raw, resp.StatusCode)
	}
	pAdmin(t, o.cfgFile, func(ctx context.Context, admin *accounts.Service) error {
		return admin.OAuth2Clients().Remove(ctx, "cli-job")
	})
	if r := o.post(t, "/auth/oauth2/token", "cli-job", secret, url.Values{"grant_type": {"client_credentials"}}); r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("a removed client = %d %s; want 401 invalid_client", r.status, r.raw)
	}

	// Revoked (RFC 7009): the route refuses it from then on.
	if rv := o.post(t, "/auth/oauth2/revoke", "svc", oSecret, url.Values{"token": {access}}); rv.status != http.StatusOK {
		t.Fatalf("revoke = %d %s; want 200", rv.status, rv.raw)
	}
	resp = o.do(t, http.MethodGet, "/reports/q1", nil, [2]string{"Authorization", "Bearer " + access})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /reports with the revoked token = %d; want 401", resp.StatusCode)
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestOAuth2RefusalsThroughGateway: the provider's refusals, asked
// through the wired gateway (database code store, real sessions and
// denylist): each is the RFC's error, and nothing is issued.
func TestOAuth2RefusalsThroughGateway(t *testing.T) {
	b := newBackend(t, "app")
	o := oStart(t, oClients, "  - {name: app, path: /app, auth: required, upstream: "+b.URL+"}\n", "")
	alice := o.register(t, "alice")
	session := o.login(t, alice).AccessToken

	// code returns a fresh code of client for redirect.
	code := func(t *testing.T, client, redirect, challenge string) string {
		t.Helper()
		status, loc := o.authorize(t, session, oAuthorizeQuery(client, redirect, challenge))
		c := loc.Query().Get("code")
		if status != http.StatusFound || c == "" || loc.Query().Get("iss") != o.issuer {
			t.Fatalf("authorize = %d %s; want a redirect with a code and iss", status, loc)
		}
		return c
	}
	exchange := func(t *testing.T, client, c, redirect, verifier string) oResponse {
		t.Helper()
		form := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		if client == "spa" {
			form.Set("client_id", "spa")
			return o.post(t, "/auth/oauth2/token", "", "", form)
		}
		return o.post(t, "/auth/oauth2/token", client, oSecret, form)
	}
	wantErr := func(t *testing.T, r oResponse, status int, code string) {
		t.Helper()
		if r.status != status || r.str("error") != code || r.body["access_token"] != nil {
			t.Errorf("answer = %d %s; want %d with error %q and no token", r.status, r.raw, status, code)
		}
	}

	t.Run("fail-redirect-one-character", func(t *testing.T) {
		status, loc := o.authorize(t, session, oAuthorizeQuery("webapp", "https://app.example.test/callbacK", ""))
		if status != http.StatusBadRequest || loc.String() != "" {
			t.Errorf("authorize = %d to %q; want 400 and no redirect", status, loc)
		}
	})
	t.Run("fail-open-redirect", func(t *testing.T) {
		status, loc := o.authorize(t, session, oAuthorizeQuery("webapp", "https://evil.example/callback", ""))
		if status != http.StatusBadRequest || loc.String() != "" {
			t.Errorf("authorize = %d to %q; want 400 and no redirect", status, loc)
		}
	})
	t.Run("fail-implicit", func(t *testing.T) {
		q := oAuthorizeQuery("webapp", oWebRedirect, "")
		q.Set("response_type", "token")
		status, loc := o.authorize(t, session, q)
		got := loc.Query()
		if loc.RawQuery == "" {
			got, _ = url.ParseQuery(loc.Fragment)
		}
		if status != http.StatusFound || got.Get("error") != "unsupported_response_type" || got.Has("access_token") {
			t.Errorf("implicit = %d %s; want unsupported_response_type", status, loc)
		}
	})
	t.Run("fail-public-without-pkce", func(t *testing.T) {
		status, loc := o.authorize(t, session, oAuthorizeQuery("spa", oSPARedirect, ""))
		if status != http.StatusFound || loc.Query().Get("error") != "invalid_request" || loc.Query().Has("code") {
			t.Errorf("public client without PKCE = %d %s; want invalid_request", status, loc)
		}
	})
	t.Run("fail-wrong-verifier", func(t *testing.T) {
		c := code(t, "spa", oSPARedirect, oPKCE(oVerifier))
		wantErr(t, exchange(t, "spa", c, oSPARedirect, oVerifier+"x"), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("fail-missing-verifier", func(t *testing.T) {
		c := code(t, "spa", oSPARedirect, oPKCE(oVerifier))
		// A missing parameter is invalid_request (RFC 6749 §5.2).
		wantErr(t, exchange(t, "spa", c, oSPARedirect, ""), http.StatusBadRequest, "invalid_request")
	})
	t.Run("fail-code-of-another-client", func(t *testing.T) {
		c := code(t, "webapp", oWebRedirect, "")
		wantErr(t, exchange(t, "other", c, oWebRedirect, ""), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("fail-wrong-secret", func(t *testing.T) {
		c := code(t, "webapp", oWebRedirect, "")
		r := o.post(t, "/auth/oauth2/token", "webapp", oSecret+"x", url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {oWebRedirect}})
		wantErr(t, r, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("fail-password-not-allowed", func(t *testing.T) {
		r := o.post(t, "/auth/oauth2/token", "webapp", oSecret, url.Values{"grant_type": {"password"}, "username": {alice.Username}, "password": {alice.Password}})
		wantErr(t, r, http.StatusBadRequest, "unauthorized_client")
	})
	t.Run("fail-code-used-twice-revokes", func(t *testing.T) {
		c := code(t, "webapp", oWebRedirect, "")
		first := exchange(t, "webapp", c, oWebRedirect, "")
		access := first.str("access_token")
		if first.status != http.StatusOK || access == "" {
			t.Fatalf("first exchange = %d %s; want tokens", first.status, first.raw)
		}
		if resp := o.do(t, http.MethodGet, "/app/x", nil, [2]string{"Authorization", "Bearer " + access}); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /app with the code's token = %d; want 200", resp.StatusCode)
		}
		wantErr(t, exchange(t, "webapp", c, oWebRedirect, ""), http.StatusBadRequest, "invalid_grant")
		// RFC 6749 §4.1.2: what the code produced is revoked.
		if resp := o.do(t, http.MethodGet, "/app/x", nil, [2]string{"Authorization", "Bearer " + access}); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /app with the token of a code used twice = %d; want 401", resp.StatusCode)
		}
		r := o.post(t, "/auth/oauth2/token", "webapp", oSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}})
		wantErr(t, r, http.StatusBadRequest, "invalid_grant")
	})
}

// TestOAuth2ConfigErrors: what `authgate check` (the loader) says about
// the oauth2 section, at its lines: the provider needs an asymmetric key
// and an https issuer; clients are checked even while it is off.
func TestOAuth2ConfigErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.yaml")
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "fail-hs256-and-plain-issuer",
			yaml: "tokens:\n  secret: " + testSecret + "\noauth2:\n  enabled: true\nroutes:\n  - {path: /, upstream: \"builtin:echo\"}\n",
			want: []string{
				file + `:4:3: oauth2.enabled: needs tokens.algorithm RS256, ES256 or EdDSA (not "HS256")`,
				file + `:4:3: oauth2.enabled: needs tokens.issuer to be an https URL ("authgate" is not an absolute URL)`,
			},
		},
		{
			name: "fail-client-while-disabled",
			yaml: "oauth2:\n  clients:\n    - id: app\n      secret: short\n      redirect_uris: [https://app.example/cb]\n      grants: [implicit]\nroutes:\n  - {path: /, upstream: \"builtin:echo\"}\n",
			want: []string{
				file + `:4:7: oauth2.clients[0].secret: is 5 characters`,
				file + `:6:16: oauth2.clients[0].grants[0]: "implicit" must be one of`,
			},
		},
		{
			name: "fail-unknown-key",
			yaml: "oauth2:\n  enabld: true\nroutes:\n  - {path: /, upstream: \"builtin:echo\"}\n",
			want: []string{file + `:2:3: oauth2: unknown key "enabld"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantParseErrors(t, file, tt.yaml, tt.want...)
		})
	}
}
