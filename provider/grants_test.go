package provider

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestClientCredentials: a service account's token, as
// golang.org/x/oauth2/clientcredentials asks for it: sub = the client, its
// roles, no refresh token, no ID token.
func TestClientCredentials(t *testing.T) {
	h := newHarness(t)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, h.srv.Client())
	conf := clientcredentials.Config{
		ClientID: "service", ClientSecret: serviceSecret, TokenURL: h.issuer + "/auth/oauth2/token",
		Scopes: []string{"reports.read"},
	}
	tok, err := conf.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if tok.RefreshToken != "" || tok.Extra("id_token") != nil {
		t.Fatalf("token = %+v; want no refresh token and no ID token (RFC 6749 §4.4.3)", tok)
	}
	info, err := h.accounts.Inspect(ctx, tok.AccessToken)
	if err != nil || info.Subject != "service" || !slices.Equal(info.Roles, []string{"reports"}) || info.User != nil {
		t.Fatalf("the token is %+v, %v; want sub service with roles [reports]", info, err)
	}

	tests := []struct {
		name         string
		user, secret string
		form         url.Values
		status       int
		want         string
	}{
		{name: "fail-openid-scope", user: "service", secret: serviceSecret, form: url.Values{"scope": {"openid"}}, status: 400, want: "invalid_scope"},
		{name: "fail-unknown-scope", user: "service", secret: serviceSecret, form: url.Values{"scope": {"reports.write"}}, status: 400, want: "invalid_scope"},
		{name: "fail-wrong-secret", user: "service", secret: "nope", status: 401, want: "invalid_client"},
		// A public client authenticates as nobody: it never has the grant.
		{name: "fail-public-client", form: url.Values{"client_id": {"spa"}}, status: 400, want: "unauthorized_client"},
		{name: "fail-not-allowed", user: "webapp", secret: webSecret, status: 400, want: "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.accounts.sessionCount()
			form := url.Values{"grant_type": {"client_credentials"}}
			for k, v := range tt.form {
				form[k] = v
			}
			wantError(t, h.post(t, "/auth/oauth2/token", form, tt.user, tt.secret, nil), tt.status, tt.want)
			h.wantNothingIssued(t, before)
		})
	}
}

// TestPasswordGrant: only for a client that lists it, through the login
// throttle, never with credentials in the URL.
func TestPasswordGrant(t *testing.T) {
	h := newHarness(t)
	form := func(user, pass string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"openid profile"}}
	}
	resp := h.post(t, "/auth/oauth2/token", form("alice", "alice-password"), "legacy", legacySecret, nil)
	body := jsonBody(t, resp)
	if resp.StatusCode != http.StatusOK || body["access_token"] == nil || body["refresh_token"] == nil || body["id_token"] == nil {
		t.Fatalf("password grant = %d %v; want access, refresh and ID tokens", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control = %q; want no-store (RFC 6749 §5.1)", resp.Header.Get("Cache-Control"))
	}

	before := h.accounts.sessionCount()
	wantError(t, h.post(t, "/auth/oauth2/token", form("alice", "wrong"), "legacy", legacySecret, nil), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.post(t, "/auth/oauth2/token", form("alice", "alice-password"), "legacy", "wrong", nil), http.StatusUnauthorized, "invalid_client")
	wantError(t, h.post(t, "/auth/oauth2/token", form("alice", "alice-password"), "webapp", webSecret, nil), http.StatusBadRequest, "unauthorized_client")
	bad := form("alice", "alice-password")
	bad.Set("scope", "openid admin")
	wantError(t, h.post(t, "/auth/oauth2/token", bad, "legacy", legacySecret, nil), http.StatusBadRequest, "invalid_scope")
	inURL := h.post(t, "/auth/oauth2/token?password=alice-password", url.Values{"grant_type": {"password"}, "username": {"alice"}}, "legacy", legacySecret, nil)
	wantError(t, inURL, http.StatusBadRequest, "invalid_request")

	h.accounts.mu.Lock()
	h.accounts.throttled = true
	h.accounts.mu.Unlock()
	throttled := h.post(t, "/auth/oauth2/token", form("alice", "alice-password"), "legacy", legacySecret, nil)
	if throttled.Header.Get("Retry-After") != "30" {
		t.Fatalf("throttled password grant: Retry-After %q; want 30", throttled.Header.Get("Retry-After"))
	}
	wantError(t, throttled, http.StatusTooManyRequests, "invalid_grant")
	h.wantNothingIssued(t, before)
}

// TestRefreshScopes: a refresh may narrow the scopes, never widen them,
// and a refresh token works only for the client it was issued to.
func TestRefreshScopes(t *testing.T) {
	h := newHarness(t)
	cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
	q := authorizeQuery("webapp", webRedirect, "")
	q.Set("scope", "openid email")
	tok := jsonBody(t, h.exchange(t, h.code(t, q, cookie), "webapp", webSecret, webRedirect, ""))
	rt := tok["refresh_token"].(string)

	widen := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"openid email roles"}}
	wantError(t, h.post(t, "/auth/oauth2/token", widen, "webapp", webSecret, nil), http.StatusBadRequest, "invalid_scope")
	other := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	wantError(t, h.post(t, "/auth/oauth2/token", other, "thirdparty", thirdSecret, nil), http.StatusBadRequest, "invalid_grant")

	narrow := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"openid"}}
	resp := h.post(t, "/auth/oauth2/token", narrow, "webapp", webSecret, nil)
	body := jsonBody(t, resp)
	if resp.StatusCode != http.StatusOK || body["scope"] != "openid" || body["id_token"] == nil {
		t.Fatalf("narrowing refresh = %d %v; want scope openid and an ID token", resp.StatusCode, body)
	}
}
