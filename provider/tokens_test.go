package provider

import (
	"net/http"
	"net/url"
	"testing"
)

// signedInTokens runs a code flow for webapp and returns the token response.
func (h *harness) signedInTokens(t *testing.T, scope string) map[string]any {
	t.Helper()
	cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
	q := authorizeQuery("webapp", webRedirect, "")
	q.Set("scope", scope)
	return jsonBody(t, h.exchange(t, h.code(t, q, cookie), "webapp", webSecret, webRedirect, ""))
}

// TestIntrospection (RFC 7662): active with the token's claims while the
// session lives, active: false and nothing else once it is revoked, and
// only for an authenticated confidential client.
func TestIntrospection(t *testing.T) {
	h := newHarness(t)
	tok := h.signedInTokens(t, "openid profile email roles")
	access := tok["access_token"].(string)

	resp := h.post(t, "/auth/oauth2/introspect", url.Values{"token": {access}}, "thirdparty", thirdSecret, nil)
	got := jsonBody(t, resp)
	if resp.StatusCode != http.StatusOK || got["active"] != true || got["sub"] != h.alice.ID || got["client_id"] != "webapp" ||
		got["username"] != "alice" || got["iss"] != h.issuer || got["token_type"] != "Bearer" || got["sid"] == nil || got["exp"] == nil {
		t.Fatalf("introspection = %d %v; want active with alice's claims", resp.StatusCode, got)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control = %q; want no-store", resp.Header.Get("Cache-Control"))
	}
	roles, _ := got["roles"].([]any)
	if len(roles) != 1 || roles[0] != "admin" {
		t.Fatalf("roles = %v; want [admin]", got["roles"])
	}

	// Revoked (a logout, the denylist): inactive at once.
	if err := h.accounts.EndSession(t.Context(), got["sid"].(string)); err != nil {
		t.Fatal(err)
	}
	got = jsonBody(t, h.post(t, "/auth/oauth2/introspect", url.Values{"token": {access}}, "webapp", webSecret, nil))
	if len(got) != 1 || got["active"] != false {
		t.Fatalf("introspection after revocation = %v; want exactly {active: false}", got)
	}
	got = jsonBody(t, h.post(t, "/auth/oauth2/introspect", url.Values{"token": {"garbage"}}, "webapp", webSecret, nil))
	if got["active"] != false {
		t.Fatalf("introspection of garbage = %v; want active: false", got)
	}

	tests := []struct {
		name         string
		user, secret string
		form         url.Values
		status       int
		want         string
	}{
		{name: "fail-no-client", form: url.Values{"token": {access}}, status: 400, want: "invalid_request"},
		// No Authorization header: RFC 6749 §5.2 leaves 400 or 401 open; zitadel says 400.
		{name: "fail-public-client", form: url.Values{"token": {access}, "client_id": {"spa"}}, status: 400, want: "invalid_client"},
		{name: "fail-wrong-secret", user: "webapp", secret: "wrong", form: url.Values{"token": {access}}, status: 401, want: "invalid_client"},
		{name: "fail-no-token", user: "webapp", secret: webSecret, form: url.Values{}, status: 400, want: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, h.post(t, "/auth/oauth2/introspect", tt.form, tt.user, tt.secret, nil), tt.status, tt.want)
		})
	}
}

// TestRevocation (RFC 7009): either token of a session revokes it; an
// unknown token is 200; another client's token is refused.
func TestRevocation(t *testing.T) {
	for _, which := range []string{"access_token", "refresh_token"} {
		t.Run("ok-"+which, func(t *testing.T) {
			h := newHarness(t)
			tok := h.signedInTokens(t, "openid")
			resp := h.post(t, "/auth/oauth2/revoke", url.Values{"token": {tok[which].(string)}, "token_type_hint": {which}}, "webapp", webSecret, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("revoke = %d; want 200", resp.StatusCode)
			}
			for _, kind := range []string{"access_token", "refresh_token"} {
				if _, err := h.accounts.Inspect(t.Context(), tok[kind].(string)); err == nil {
					t.Errorf("the session's %s is still active after revoking its %s", kind, which)
				}
			}
		})
	}
	h := newHarness(t)
	tok := h.signedInTokens(t, "openid")
	if resp := h.post(t, "/auth/oauth2/revoke", url.Values{"token": {"unknown"}}, "webapp", webSecret, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoking an unknown token = %d; want 200 (RFC 7009 §2.2)", resp.StatusCode)
	}
	wantError(t, h.post(t, "/auth/oauth2/revoke", url.Values{"token": {tok["access_token"].(string)}}, "thirdparty", thirdSecret, nil),
		http.StatusBadRequest, "unauthorized_client")
	wantError(t, h.post(t, "/auth/oauth2/revoke", url.Values{"token": {tok["access_token"].(string)}}, "webapp", "wrong", nil),
		http.StatusUnauthorized, "invalid_client")
	if _, err := h.accounts.Inspect(t.Context(), tok["access_token"].(string)); err != nil {
		t.Fatalf("a refused revocation revoked the token: %v", err)
	}
}

// TestUserInfoRefusals (RFC 6750 §3): 401 invalid_token for a dead token,
// 403 insufficient_scope without openid or without a user, each with its
// WWW-Authenticate.
func TestUserInfoRefusals(t *testing.T) {
	h := newHarness(t)
	noOpenID := h.signedInTokens(t, "profile")["access_token"].(string)
	service := jsonBody(t, h.post(t, "/auth/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret, nil))["access_token"].(string)
	tests := []struct {
		name, token string
		status      int
		want        string
	}{
		{name: "fail-unknown", token: "nope", status: 401, want: "invalid_token"},
		{name: "fail-no-openid", token: noOpenID, status: 403, want: "insufficient_scope"},
		{name: "fail-service-account", token: service, status: 403, want: "insufficient_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.issuer+"/auth/oauth2/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			resp := h.do(t, req)
			wantError(t, resp, tt.status, tt.want)
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("no WWW-Authenticate (RFC 6750 §3)")
			}
		})
	}
}
