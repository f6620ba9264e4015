package accounts

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/federation"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

// fedSections is testSections with one identity provider, corp, at issuer.
func fedSections(dbURL, issuer string, edit func(*federation.ProviderConfig)) Sections {
	cfg := testSections(dbURL)
	pc := federation.ProviderConfig{
		Name: "corp", Type: federation.TypeOIDC, Issuer: issuer, ClientID: "authgate", ClientSecret: "corp-secret",
		Scopes:     []string{"openid", "email", "profile", "offline_access"},
		RolesClaim: "realm_access.roles", RoleMap: map[string][]string{"app-admin": {"admin"}, "viewer": {"viewer"}},
	}
	if edit != nil {
		edit(&pc)
	}
	cfg.IdentityProviders = federation.Config{IdentityProviders: []federation.ProviderConfig{pc}}
	cfg.IdentityProviders.SetDefaults()
	cfg.AuthPrefix, cfg.CookieName = "/auth", "authgate"
	return cfg
}

// result is a verified sign-in of subject at issuer, as Callback returns it.
func result(issuer, subject, email string, verified bool, roles ...string) *federation.Result {
	return &federation.Result{
		Provider: "corp", Issuer: issuer, Subject: subject, Email: email, EmailVerified: verified,
		Username: strings.Split(email, "@")[0], Roles: roles, ManagesRoles: true, AllowSignup: true,
	}
}

func TestFederatedLoginAdmission(t *testing.T) {
	const iss = "https://idp.example.com"
	for name, dbURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			s := newTestService(t, fedSections(dbURL(t), iss, nil))
			ctx := context.Background()
			bob := mustRegister(t, s.users, "bob", "bob@example.com", "correct-horse-battery-bob")
			mustRegister(t, s.users, "carol", "carol-local@example.com", "correct-horse-battery-carol")

			// ok-create: a first sign-in creates the user with the
			// provider's roles; the username is the provider's hint.
			pair, err := s.FederatedLogin(ctx, result(iss, "sub-a", "alice@example.com", true, "admin"))
			if err != nil {
				t.Fatalf("FederatedLogin(first) = %v", err)
			}
			id := mustVerify(t, s, pair.AccessToken)
			if id.Username != "alice" || id.Email != "alice@example.com" || !slices.Equal(id.Roles, []string{"admin"}) {
				t.Errorf("first sign-in: %+v; want alice, alice@example.com, [admin]", id)
			}
			// ok-sign-in: the same identity signs the same user in; the
			// provider's roles replace the user's.
			pair, err = s.FederatedLogin(ctx, result(iss, "sub-a", "alice@example.com", true, "viewer"))
			if err != nil {
				t.Fatalf("FederatedLogin(again) = %v", err)
			}
			if again := mustVerify(t, s, pair.AccessToken); again.UserID != id.UserID || !slices.Equal(again.Roles, []string{"viewer"}) {
				t.Errorf("second sign-in: %+v; want user %s with [viewer]", again, id.UserID)
			}

			// ok-username-taken: carol exists locally (another address):
			// the new user gets another name; an unverified address is not
			// kept.
			pair, err = s.FederatedLogin(ctx, result(iss, "sub-c", "carol@example.com", false))
			if err != nil {
				t.Fatalf("FederatedLogin(carol) = %v", err)
			}
			if c := mustVerify(t, s, pair.AccessToken); c.Username == "carol" || !strings.HasSuffix(c.Email, "@identity.invalid") {
				t.Errorf("sign-in with a taken username and an unverified address: %+v; want another name and an .invalid address", c)
			}

			for _, tc := range []struct {
				name    string
				res     *federation.Result
				wantErr error
			}{
				{"fail-email-of-local-user-untrusted", result(iss, "sub-b", "bob@example.com", true), problem.ErrEmailTaken},
				{"fail-email-unverified-for-linking", func() *federation.Result {
					r := result(iss, "sub-b", "bob@example.com", false)
					r.TrustedEmail = true
					return r
				}(), problem.ErrSignInForbidden},
				{"fail-signup-closed", func() *federation.Result {
					r := result(iss, "sub-d", "dave@example.com", true)
					r.AllowSignup = false
					return r
				}(), problem.ErrSignInForbidden},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if _, err := s.FederatedLogin(ctx, tc.res); !errors.Is(err, tc.wantErr) {
						t.Errorf("FederatedLogin = %v; want %v", err, tc.wantErr)
					}
				})
			}

			// ok-link: a trusted provider that verified bob's address links
			// to bob.
			r := result(iss, "sub-b", "bob@example.com", true)
			r.TrustedEmail = true
			pair, err = s.FederatedLogin(ctx, r)
			if err != nil {
				t.Fatalf("FederatedLogin(link bob) = %v", err)
			}
			bobID := mustVerify(t, s, pair.AccessToken)
			if bobID.Username != "bob" {
				t.Errorf("linked sign-in is %q; want bob", bobID.Username)
			}
			ids, err := s.Identities(ctx, "bob")
			if err != nil || len(ids) != 1 || ids[0].Subject != "sub-b" || ids[0].UserID != bob.ID {
				t.Fatalf("Identities(bob) = %+v, %v", ids, err)
			}

			// Unlinking ends the sessions that began through the identity.
			if err := s.UnlinkMine(ctx, bobID, ids[0].ID); err != nil {
				t.Fatalf("UnlinkMine(bob, has a password) = %v", err)
			}
			if _, err := s.Refresh(ctx, pair.RefreshToken); !errors.Is(err, problem.ErrInvalidRefreshToken) {
				t.Errorf("refresh of a session through an unlinked identity = %v; want ErrInvalidRefreshToken", err)
			}
			if err := s.deny.Check(bobID); !errors.Is(err, problem.ErrTokenRevoked) {
				t.Errorf("access token of that session: %v; want revoked", err)
			}
			// alice has no password: her only identity stays.
			aliceIDs, _ := s.Identities(ctx, "alice")
			if err := s.UnlinkMine(ctx, id, aliceIDs[0].ID); !errors.Is(err, problem.ErrLastSignInMethod) {
				t.Errorf("UnlinkMine(alice's only identity) = %v; want ErrLastSignInMethod", err)
			}
			// No password opens an account created at a provider.
			if _, err := s.users.Authenticate(ctx, "alice", noPassword); !errors.Is(err, problem.ErrInvalidCredentials) {
				t.Errorf("password login to a provider-created account = %v; want ErrInvalidCredentials", err)
			}
			// A disabled user cannot sign in at the provider either.
			if _, err := s.SetActive(ctx, "alice", false); err != nil {
				t.Fatal(err)
			}
			if _, err := s.FederatedLogin(ctx, result(iss, "sub-a", "alice@example.com", true)); !errors.Is(err, problem.ErrUserDisabled) {
				t.Errorf("FederatedLogin(disabled) = %v; want ErrUserDisabled", err)
			}
		})
	}
}

// TestFederatedRefreshRealProvider: a session that began at a real
// OpenID provider re-reads its roles there at every refresh (a role
// removed there is gone), keeps the provider's rotated refresh token
// sealed, and ends — denylisted — when the provider refuses the user.
func TestFederatedRefreshRealProvider(t *testing.T) {
	for name, dbURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			op := testenv.StartOIDCProvider(t, testenv.OIDCUser{
				ID: "u-1", Username: "erin", Password: "erin-pw", Email: "erin@example.com", EmailVerified: true,
				Claims: map[string]any{"realm_access": map[string]any{"roles": []string{"app-admin", "viewer"}}},
			})
			op.RegisterClient("authgate", "corp-secret", "https://gate.test/auth/callback/corp")
			s := newTestService(t, fedSections(dbURL(t), op.Issuer, nil))
			ctx := context.Background()

			begin := httptest.NewRecorder()
			if err := s.Federation().Begin(begin, httptest.NewRequest(http.MethodGet, "https://gate.test/auth/login/corp", nil), "corp", "/"); err != nil {
				t.Fatalf("Begin = %v", err)
			}
			back, err := op.SignIn(begin.Header().Get("Location"), "erin", "erin-pw")
			if err != nil {
				t.Fatalf("SignIn = %v", err)
			}
			req := httptest.NewRequest(http.MethodGet, back.String(), nil)
			for _, c := range begin.Result().Cookies() {
				req.AddCookie(c)
			}
			req.SetPathValue("name", "corp")
			res, err := s.Federation().Callback(httptest.NewRecorder(), req)
			if err != nil {
				t.Fatalf("Callback = %v", err)
			}
			started := time.Now()
			pair, err := s.FederatedLogin(ctx, res)
			if err != nil {
				t.Fatalf("FederatedLogin = %v", err)
			}
			t.Logf("first sign-in (create the user, link, open the session) took %s", time.Since(started))
			if id := mustVerify(t, s, pair.AccessToken); !slices.Equal(id.Roles, []string{"admin", "viewer"}) {
				t.Errorf("roles at sign-in = %v; want [admin viewer]", id.Roles)
			}
			var stored string
			if err := s.db.GetContext(ctx, &stored, `SELECT refresh_token FROM identity_sessions`); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stored, "v1.") || strings.Contains(stored, res.RefreshToken) {
				t.Errorf("stored provider refresh token is not sealed")
			}

			op.SetClaims("u-1", map[string]any{"realm_access": map[string]any{"roles": []string{"viewer"}}})
			started = time.Now()
			pair, err = s.Refresh(ctx, pair.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh = %v", err)
			}
			// A measurement, not an assertion: what asking the provider
			// again adds to a refresh.
			t.Logf("refresh with the provider re-check took %s", time.Since(started))
			id := mustVerify(t, s, pair.AccessToken)
			if !slices.Equal(id.Roles, []string{"viewer"}) {
				t.Errorf("roles after the provider removed app-admin = %v; want [viewer]", id.Roles)
			}
			var rotated string
			if err := s.db.GetContext(ctx, &rotated, `SELECT refresh_token FROM identity_sessions`); err != nil {
				t.Fatal(err)
			}
			if rotated == stored {
				t.Error("the provider's rotated refresh token was not stored")
			}

			op.DisableUser("u-1")
			if _, err := s.Refresh(ctx, pair.RefreshToken); !errors.Is(err, problem.ErrInvalidRefreshToken) {
				t.Fatalf("Refresh after the provider disabled the user = %v; want ErrInvalidRefreshToken", err)
			}
			if err := s.deny.Check(id); !errors.Is(err, problem.ErrTokenRevoked) {
				t.Errorf("the ended session's access token: %v; want revoked", err)
			}
		})
	}
}
