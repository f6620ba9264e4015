package federation

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

// TestSignInRealProvider runs the whole of federation against a real
// OpenID provider (zitadel/oidc's certified op, internal/testenv): sign-in
// through its login form with PKCE, state and nonce; the email it keeps out
// of the ID token read from userinfo; roles from the nested
// realm_access.roles; a role removed at the provider gone at the next
// refresh; the provider's end_session_endpoint for logout; and a user
// disabled there ending the session.
func TestSignInRealProvider(t *testing.T) {
	op := testenv.StartOIDCProvider(t, testenv.OIDCUser{
		ID: "u-1", Username: "alice", Password: "alice-pw", Email: "alice@example.com", EmailVerified: true,
		Claims: map[string]any{"realm_access": map[string]any{"roles": []string{"app-admin", "viewer", "offline_access"}}},
	})
	const secret = "zitadel-client-secret"
	op.RegisterClient("authgate", secret, "https://gate.test/auth/callback/corp")
	pc := ProviderConfig{
		Name: "corp", Type: TypeOIDC, Issuer: op.Issuer, ClientID: "authgate", ClientSecret: secret,
		Scopes:         []string{"openid", "email", "profile", "offline_access"},
		RolesClaim:     "realm_access.roles",
		RoleMap:        map[string][]string{"app-admin": {"admin"}, "viewer": {"viewer"}},
		AllowedDomains: []string{"example.com"},
		EndSession:     true,
	}
	f, logs := newFed(t, pc)

	fl := begin(t, f, "corp", "/app")
	cb, err := op.SignIn(fl.authorize.String(), "alice", "alice-pw")
	if err != nil {
		t.Fatalf("sign-in at the provider: %v", err)
	}
	res, _, err := callback(f, cb, fl.cookie)
	if err != nil {
		t.Fatalf("Callback = %v", err)
	}
	if res.Issuer != op.Issuer || res.Subject != "u-1" || res.Email != "alice@example.com" || !res.EmailVerified ||
		res.Username != "alice" || !slices.Equal(res.Roles, []string{"admin", "viewer"}) ||
		res.RefreshToken == "" || res.IDToken == "" || res.ReturnTo != "/app" {
		t.Fatalf("Result = %+v", res)
	}

	ctx := context.Background()
	op.SetClaims("u-1", map[string]any{"realm_access": map[string]any{"roles": []string{"viewer"}}})
	roles, rt, err := f.RefreshRoles(ctx, "corp", res.Subject, res.RefreshToken)
	if err != nil || !slices.Equal(roles, []string{"viewer"}) || rt == res.RefreshToken {
		t.Fatalf("RefreshRoles = %v, %v; want [viewer] and a rotated refresh token", roles, err)
	}

	logout, err := f.EndSessionURL(ctx, "corp", res.IDToken, "")
	if err != nil || !strings.HasPrefix(logout, op.Issuer+"/") || !strings.Contains(logout, "id_token_hint=") {
		t.Errorf("EndSessionURL = %q, %v", logout, err)
	}

	op.DisableUser("u-1")
	_, _, err = f.RefreshRoles(ctx, "corp", res.Subject, rt)
	wantErr(t, "RefreshRoles for a user disabled at the provider", err, ErrRevoked)
	noSecrets(t, "logs", logs.String(), secret, res.RefreshToken, rt, cb.Query().Get("code"))
}
