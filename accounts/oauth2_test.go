package accounts

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/provider"
)

func TestOAuth2CodesAndConsents(t *testing.T) {
	ctx := context.Background()
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			s := newTestService(t, testSections(newURL(t)))
			codes, consents := s.OAuth2Codes(), s.OAuth2Consents()
			exp := time.Now().Add(time.Minute)
			want := provider.AuthCode{ClientID: "app", RedirectURI: "https://app.test/cb", Challenge: "ch", Nonce: "n",
				Scopes: []string{"openid", "email"}, UserID: "7", AuthTime: time.Now().Add(-time.Hour), Expires: exp}
			if err := codes.Save(ctx, "h1", want); err != nil {
				t.Fatalf("Save: %v", err)
			}
			if _, err := codes.Redeem(ctx, "unknown"); !errors.Is(err, provider.ErrCodeNotFound) {
				t.Errorf("Redeem(unknown) = %v; want ErrCodeNotFound", err)
			}
			// Two redemptions at once: exactly one wins.
			var wg sync.WaitGroup
			errs := make([]error, 2)
			got := make([]*provider.AuthCode, 2)
			for i := range 2 {
				wg.Go(func() { got[i], errs[i] = codes.Redeem(ctx, "h1") })
			}
			wg.Wait()
			wins := 0
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
					if got[i].ClientID != "app" || !slices.Equal(got[i].Scopes, want.Scopes) || got[i].Challenge != "ch" {
						t.Errorf("Redeem = %+v; want %+v", got[i], want)
					}
				case !errors.Is(err, provider.ErrCodeReused):
					t.Errorf("Redeem = %v; want nil or ErrCodeReused", err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d of 2 concurrent redemptions won; want 1", wins)
			}
			// The loser came while the winner issued: Issued says so.
			if err := codes.Issued(ctx, "h1", "sid-1"); !errors.Is(err, provider.ErrCodeReused) {
				t.Errorf("Issued after a reuse = %v; want ErrCodeReused", err)
			}
			if c, err := codes.Redeem(ctx, "h1"); !errors.Is(err, provider.ErrCodeReused) || c.SessionID != "sid-1" {
				t.Errorf("Redeem again = %+v, %v; want session sid-1, ErrCodeReused", c, err)
			}

			if got, err := consents.Consented(ctx, "7", "app"); err != nil || got != nil {
				t.Errorf("Consented before = %v, %v; want nil", got, err)
			}
			if err := consents.Consent(ctx, "7", "app", []string{"openid"}); err != nil {
				t.Fatal(err)
			}
			if err := consents.Consent(ctx, "7", "app", []string{"email", "openid"}); err != nil {
				t.Fatal(err)
			}
			if got, _ := consents.Consented(ctx, "7", "app"); !slices.Equal(got, []string{"openid", "email"}) {
				t.Errorf("Consented = %v; want [openid email]", got)
			}
		})
	}
}

func TestOAuth2Sessions(t *testing.T) {
	ctx := context.Background()
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			s := newTestService(t, testSections(newURL(t)))
			o := s.OAuth2()
			u, err := s.Register(ctx, "alice", "alice@example.test", "correct horse battery", "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			app, err := provider.NewClient(provider.ClientConfig{ID: "app", Secret: "s3cr3t-0123456789abcdefghijklmnopqrstuv",
				RedirectURIs: []string{"https://app.test/cb"}, Grants: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid"}})
			if err != nil {
				t.Fatal(err)
			}
			uid := strconv.FormatInt(u.ID, 10)
			iss, err := o.Issue(ctx, provider.Grant{Client: app, User: &provider.User{ID: uid}, Scopes: []string{"openid"},
				AuthTime: time.Now(), Refresh: true})
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			info, err := o.Inspect(ctx, iss.AccessToken)
			if err != nil || info.ClientID != "app" || info.User == nil || info.User.Username != "alice" || !slices.Equal(info.Scopes, []string{"openid"}) {
				t.Fatalf("Inspect(access) = %+v, %v; want alice's token of app with scope openid", info, err)
			}
			if _, err := o.Refresh(ctx, "other", iss.RefreshToken); !errors.Is(err, provider.ErrInvalidGrant) {
				t.Errorf("Refresh by another client = %v; want ErrInvalidGrant", err)
			}
			// The client's refresh token is not the /auth API's, nor the
			// other way round; neither attempt uses the token up.
			if _, err := s.Refresh(ctx, iss.RefreshToken); !errors.Is(err, problem.ErrInvalidRefreshToken) {
				t.Errorf("POST /auth/refresh with a client's refresh token: %v; want ErrInvalidRefreshToken", err)
			}
			own, err := s.Login(ctx, "alice", "correct horse battery", "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.Refresh(ctx, "app", own.RefreshToken); !errors.Is(err, provider.ErrInvalidGrant) {
				t.Errorf("a client refreshing a sign-in's refresh token: %v; want ErrInvalidGrant", err)
			}
			if _, err := s.Refresh(ctx, own.RefreshToken); err != nil {
				t.Errorf("the sign-in's refresh token after a client tried it: %v; want it alive", err)
			}
			next, err := o.Refresh(ctx, "app", iss.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if _, err := o.Inspect(ctx, iss.RefreshToken); !errors.Is(err, provider.ErrInactive) {
				t.Errorf("Inspect(rotated refresh token) = %v; want ErrInactive", err)
			}
			if err := o.Revoke(ctx, "other", next.RefreshToken); !errors.Is(err, provider.ErrOtherClient) {
				t.Errorf("Revoke by another client = %v; want ErrOtherClient", err)
			}
			if err := o.Revoke(ctx, "app", next.RefreshToken); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			for _, tok := range []string{next.AccessToken, next.RefreshToken} {
				if _, err := o.Inspect(ctx, tok); !errors.Is(err, provider.ErrInactive) {
					t.Errorf("Inspect after revoke = %v; want ErrInactive", err)
				}
			}

			svc, err := provider.NewClient(provider.ClientConfig{ID: "svc", Secret: "s3cr3t-0123456789abcdefghijklmnopqrstuv",
				Grants: []string{"client_credentials"}, Roles: []string{"reports"}})
			if err != nil {
				t.Fatal(err)
			}
			cc, err := o.Issue(ctx, provider.Grant{Client: svc})
			if err != nil {
				t.Fatal(err)
			}
			id, err := s.Tokens().Verify(cc.AccessToken)
			if err != nil || id.UserID != "svc" || !id.HasAnyRole([]string{"reports"}) {
				t.Fatalf("Verify(client token) = %+v, %v; want sub svc with role reports", id, err)
			}
			info, err = o.Inspect(ctx, cc.AccessToken)
			if err != nil || info.User != nil || info.Subject != "svc" {
				t.Errorf("Inspect(client token) = %+v, %v; want the client's own", info, err)
			}
			if err := o.Revoke(ctx, "svc", cc.AccessToken); err != nil {
				t.Fatal(err)
			}
			if err := s.Denylist().Check(id); err == nil {
				t.Error("a revoked client token still passes the denylist")
			}
		})
	}
}
