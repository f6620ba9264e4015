package provider

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestCodeFlowWithRealClients runs the authorization code flow with PKCE
// as golang.org/x/oauth2 and github.com/coreos/go-oidc/v3 drive it: the
// client discovers the provider, exchanges the code, verifies the ID
// token (signature through jwks_uri, nonce, at_hash), reads userinfo and
// refreshes.
func TestCodeFlowWithRealClients(t *testing.T) {
	tests := []struct {
		name, client, secret, redirect string
	}{
		{name: "ok-confidential", client: "webapp", secret: webSecret, redirect: webRedirect},
		{name: "ok-public", client: "spa", redirect: spaRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := oidc.ClientContext(context.Background(), h.srv.Client())
			prov, err := oidc.NewProvider(ctx, h.issuer)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			endpoint := prov.Endpoint()
			if tt.secret == "" {
				endpoint.AuthStyle = oauth2.AuthStyleInParams
			}
			conf := oauth2.Config{
				ClientID: tt.client, ClientSecret: tt.secret, Endpoint: endpoint, RedirectURL: tt.redirect,
				Scopes: []string{oidc.ScopeOpenID, "profile", "email", "roles"},
			}
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"))
			u, _ := url.Parse(authURL)

			cookie := h.accounts.signIn(h.alice.ID, h.clock.Now().Add(-time.Minute))
			q := redirected(t, h.get(t, u.RequestURI(), cookie), tt.redirect)
			if q.Get("state") != "state-1" || q.Get("iss") != h.issuer {
				t.Fatalf("authorization response %v; want state-1 and iss %s (RFC 9207)", q, h.issuer)
			}

			tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Fatalf("token = %+v; want a Bearer token with a refresh token and an expiry", tok)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := prov.Verifier(&oidc.Config{ClientID: tt.client}).Verify(ctx, raw)
			if err != nil {
				t.Fatalf("verify ID token: %v", err)
			}
			if idt.Nonce != "nonce-1" || idt.Subject != h.alice.ID {
				t.Fatalf("ID token nonce %q sub %q; want nonce-1, %s", idt.Nonce, idt.Subject, h.alice.ID)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			var claims struct {
				PreferredUsername string   `json:"preferred_username"`
				Email             string   `json:"email"`
				EmailVerified     bool     `json:"email_verified"`
				Roles             []string `json:"roles"`
				SID               string   `json:"sid"`
				AuthTime          int64    `json:"auth_time"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if claims.PreferredUsername != "alice" || claims.Email != "alice@example.test" || !claims.EmailVerified ||
				!slices.Equal(claims.Roles, []string{"admin"}) || claims.SID == "" || claims.AuthTime == 0 {
				t.Fatalf("ID token claims %+v; want alice's profile, email, roles, sid and auth_time", claims)
			}

			info, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if info.Subject != h.alice.ID || info.Email != "alice@example.test" {
				t.Fatalf("userinfo = %+v; want alice", info)
			}

			expired := *tok
			expired.Expiry = time.Now().Add(-time.Hour)
			fresh, err := conf.TokenSource(ctx, &expired).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
				t.Fatal("refresh returned the same tokens; want a rotated pair")
			}
			if _, err := conf.TokenSource(ctx, &expired).Token(); err == nil {
				t.Fatal("refreshing with a rotated-away refresh token succeeded; want invalid_grant")
			}
		})
	}
}

// TestAuthorizeSendsToLogin: without a session the browser goes to the
// login page, which will come back to the same authorization request.
func TestAuthorizeSendsToLogin(t *testing.T) {
	h := newHarness(t)
	q := authorizeQuery("webapp", webRedirect, "")
	resp := h.get(t, "/auth/oauth2/authorize?"+q.Encode(), nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Path != "/auth/login" {
		t.Fatalf("authorize = %d %s; want 302 to /auth/login", resp.StatusCode, loc)
	}
	rd, _ := url.Parse(loc.Query().Get("rd"))
	if rd.Path != "/auth/oauth2/authorize" || rd.Host != "" || rd.Query().Get("redirect_uri") != webRedirect || loc.Query().Has("prompt") {
		t.Fatalf("rd = %q; want the same-origin authorization request, and no prompt=login", loc.Query().Get("rd"))
	}

	t.Run("fail-prompt-none", func(t *testing.T) {
		q := authorizeQuery("webapp", webRedirect, "")
		q.Set("prompt", "none")
		got := redirected(t, h.get(t, "/auth/oauth2/authorize?"+q.Encode(), nil), webRedirect)
		if got.Get("error") != "login_required" || got.Get("iss") != h.issuer || got.Has("code") {
			t.Fatalf("prompt=none without a session: %v; want error=login_required with iss", got)
		}
	})

	t.Run("ok-prompt-login", func(t *testing.T) {
		cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
		q := authorizeQuery("webapp", webRedirect, "")
		q.Set("prompt", "login")
		resp := h.get(t, "/auth/oauth2/authorize?"+q.Encode(), cookie)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		rd, _ := url.Parse(loc.Query().Get("rd"))
		if loc.Path != "/auth/login" || loc.Query().Get("prompt") != "login" || rd.Query().Has("prompt") {
			t.Fatalf("prompt=login sends to %s; want the login form (prompt=login) coming back without prompt=login", loc)
		}
		// Back from the login page with a fresh session: a code.
		h.code(t, rd.Query(), cookie)
	})

	t.Run("ok-max-age", func(t *testing.T) {
		cookie := h.accounts.signIn(h.alice.ID, h.clock.Now().Add(-time.Hour))
		q := authorizeQuery("webapp", webRedirect, "")
		q.Set("max_age", "60")
		loc, _ := url.Parse(h.get(t, "/auth/oauth2/authorize?"+q.Encode(), cookie).Header.Get("Location"))
		if loc.Path != "/auth/login" || loc.Query().Get("prompt") != "login" {
			t.Fatalf("a session older than max_age goes to %s; want the login form", loc)
		}
	})
}
