package testenv

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestOIDCProviderCodeFlow proves the test provider is a whole OpenID
// provider: discovery, the authorization code flow with PKCE S256 through
// its login form, the code exchange, a verified ID token with the nonce and
// the nested groups claim, userinfo, refresh tokens that carry the groups
// as they are now, and refusal once the user is disabled.
func TestOIDCProviderCodeFlow(t *testing.T) {
	p := StartOIDCProvider(t, OIDCUser{
		ID: "u-alice", Username: "alice", Password: "alice-pw", Email: "alice@example.com", EmailVerified: true,
		Claims: map[string]any{
			"groups":       []string{"staff", "admins"},
			"realm_access": map[string]any{"roles": []string{"app-admin"}},
		},
	})
	const redirect = "http://127.0.0.1:9/auth/callback/test"
	p.RegisterClient("authgate", "client-secret", redirect)

	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
	provider, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		Methods []string `json:"code_challenge_methods_supported"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		Logout  string   `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || !slices.Contains(meta.Methods, "S256") ||
		!slices.Equal(meta.Algs, []string{"RS256"}) || meta.Logout == "" {
		t.Fatalf("discovery = %+v, %v; want S256, RS256 and an end_session_endpoint", meta, err)
	}
	cfg := &oauth2.Config{
		ClientID: "authgate", ClientSecret: "client-secret", RedirectURL: redirect,
		Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "authgate"})

	state, nonce, pkce := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce))
	if _, err := p.SignIn(authURL, "alice", "wrong"); err == nil {
		t.Fatalf("SignIn with a wrong password succeeded")
	}
	back, err := p.SignIn(authURL, "alice", "alice-pw")
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	q := back.Query()
	if back.Scheme+"://"+back.Host+back.Path != redirect || q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("redirect back = %s; want %s with the state and a code", back, redirect)
	}
	if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatalf("the provider redeemed a code with the wrong PKCE verifier")
	}

	// A provider may revoke a code after a failed attempt (RFC 6749
	// §4.1.2), so the rightful exchange uses a fresh one.
	back, err = p.SignIn(authURL, "alice", "alice-pw")
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token for offline_access")
	}
	claims := verifyGroups(t, ctx, verifier, tok, nonce, []string{"staff", "admins"}, []string{"app-admin"})
	if claims.Sub != "u-alice" {
		t.Errorf("sub = %q; want u-alice", claims.Sub)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	var uiClaims idClaims
	if err != nil || ui.Claims(&uiClaims) != nil || ui.Email != "alice@example.com" || !ui.EmailVerified ||
		!slices.Equal(uiClaims.Groups, []string{"staff", "admins"}) {
		t.Errorf("userinfo = %+v %+v, %v; want alice's email and groups", ui, uiClaims, err)
	}

	// A group removed at the provider is gone from the next refresh.
	p.SetClaims("u-alice", map[string]any{"groups": []string{"staff"}, "realm_access": map[string]any{"roles": []string{}}})
	tok2, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	verifyGroups(t, ctx, verifier, tok2, "", []string{"staff"}, []string{})
	if tok2.RefreshToken == tok.RefreshToken {
		t.Errorf("the refresh token was not rotated")
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Errorf("the rotated-out refresh token still works")
	}

	// A user disabled at the provider: the refresh is refused with
	// invalid_grant, and the login form refuses them.
	p.DisableUser("u-alice")
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh for a disabled user = %v; want invalid_grant", err)
	}
	if _, err := p.SignIn(authURL, "alice", "alice-pw"); err == nil {
		t.Errorf("a disabled user signed in")
	}
}

type idClaims struct {
	Sub         string   `json:"sub"`
	Nonce       string   `json:"nonce"`
	Groups      []string `json:"groups"`
	RealmAccess struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
}

// verifyGroups verifies tok's ID token and checks its nonce (when given)
// and its groups and realm_access.roles.
func verifyGroups(t *testing.T, ctx context.Context, v *oidc.IDTokenVerifier, tok *oauth2.Token, nonce string, groups, roles []string) idClaims {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if nonce != "" && c.Nonce != nonce {
		t.Errorf("nonce = %q; want %q", c.Nonce, nonce)
	}
	if !slices.Equal(c.Groups, groups) || !slices.Equal(c.RealmAccess.Roles, roles) {
		t.Errorf("groups %v, realm_access.roles %v; want %v, %v", c.Groups, c.RealmAccess.Roles, groups, roles)
	}
	return c
}
