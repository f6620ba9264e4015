package federation

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestRefreshRoles: roles follow the provider at every refresh; a refusal,
// a changed subject or a user who no longer passes the restrictions is
// ErrRevoked (end the session), while an outage or authgate's own bad
// credentials are not.
func TestRefreshRoles(t *testing.T) {
	tests := []struct {
		name      string
		pc        func(pc *ProviderConfig)
		change    func(p *fakeIdP)
		token     string // "" = the sign-in's
		want      []string
		wantErr   error
		notRevoke bool // the error must not be ErrRevoked
	}{
		{name: "ok-role-removed-at-provider", want: []string{"ops"}, change: func(p *fakeIdP) {
			p.claims["groups"] = []any{"ops"}
		}},
		{name: "ok-all-roles-removed", want: []string{}, change: func(p *fakeIdP) {
			delete(p.claims, "groups")
		}},
		{name: "ok-not-managing-roles", want: nil, pc: func(pc *ProviderConfig) { pc.RolesClaim = "" }},
		{name: "fail-refused-invalid-grant", wantErr: ErrRevoked, change: func(p *fakeIdP) { p.refuse = true }},
		{name: "fail-subject-changed", wantErr: ErrRevoked, change: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) { c["sub"] = "fake-2" }
		}},
		{name: "fail-bad-id-token", wantErr: ErrRevoked, change: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) { c["aud"] = "another-client" }
		}},
		{name: "fail-no-longer-allowed", wantErr: ErrNotAllowed,
			pc:     func(pc *ProviderConfig) { pc.RequiredClaims = map[string]string{"groups": "staff"} },
			change: func(p *fakeIdP) { p.claims["groups"] = []any{"ops"} }},
		{name: "fail-domain-left", wantErr: ErrRevoked,
			pc:     func(pc *ProviderConfig) { pc.AllowedDomains = []string{"example.com"} },
			change: func(p *fakeIdP) { p.claims["email"] = "ann@elsewhere.test" }},
		{name: "fail-provider-down", wantErr: ErrProviderUnavailable, notRevoke: true, change: func(p *fakeIdP) {
			p.Close()
		}},
		{name: "fail-authgate-credentials-wrong", wantErr: ErrProviderUnavailable, notRevoke: true, change: func(p *fakeIdP) {
			p.clientSecret = "rotated-at-the-provider"
		}},
		{name: "fail-no-refresh-token", wantErr: ErrNoRefreshToken, notRevoke: true, token: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startFakeIdP(t)
			p.set(func(p *fakeIdP) { p.claims["groups"] = []any{"staff", "ops"} })
			pc := p.provider("fake")
			if tt.pc != nil {
				tt.pc(&pc)
			}
			f, logs := newFed(t, pc)
			res, err := signIn(t, f, "fake")
			if err != nil {
				t.Fatalf("sign-in = %v", err)
			}
			if tt.change != nil {
				p.set(tt.change)
			}
			rt := res.RefreshToken
			if tt.token == "-" {
				rt = ""
			}
			roles, next, err := f.RefreshRoles(context.Background(), "fake", res.Subject, rt)
			if tt.wantErr != nil {
				wantErr(t, "RefreshRoles", err, tt.wantErr)
				if tt.notRevoke && errors.Is(err, ErrRevoked) {
					t.Errorf("RefreshRoles = %v: must not end the session", err)
				}
				if !tt.notRevoke && !errors.Is(err, ErrRevoked) {
					t.Errorf("RefreshRoles = %v: want it to end the session (ErrRevoked)", err)
				}
				noSecrets(t, "error", err.Error(), res.RefreshToken, p.clientSecret)
				noSecrets(t, "logs", logs.String(), res.RefreshToken, p.clientSecret)
				return
			}
			if err != nil || !slices.Equal(roles, tt.want) || (roles == nil) != (tt.want == nil) {
				t.Fatalf("RefreshRoles = %#v, %v; want %#v", roles, err, tt.want)
			}
			if next == "" || next == res.RefreshToken {
				t.Errorf("RefreshRoles kept the old refresh token; the provider rotated it")
			}
		})
	}
}

// TestEndSessionURL: with end_session on, the Result keeps the ID token
// and logout goes to the provider's end_session_endpoint (its own query
// kept) with id_token_hint, client_id and post_logout_redirect_uri; off, no
// token is kept and there is no URL.
func TestEndSessionURL(t *testing.T) {
	p := startFakeIdP(t)
	on := p.provider("on")
	on.EndSession, on.PassToken = true, true
	off := p.provider("off")
	f, _ := newFed(t, on, off)
	if got, want := f.Providers(), []ProviderInfo{
		{Name: "on", DisplayName: "on", Type: TypeOIDC, Issuer: p.URL, Recheck: true}, // roles_claim: re-read at refresh
		{Name: "off", DisplayName: "off", Type: TypeOIDC, Issuer: p.URL, Recheck: true},
	}; !slices.Equal(got, want) || f.CallbackPath("on") != "/auth/callback/on" {
		t.Errorf("Providers() = %v, CallbackPath = %q; want %v in config order", got, f.CallbackPath("on"), want)
	}

	res, err := signIn(t, f, "on")
	if err != nil || res.IDToken == "" || res.AccessToken == "" {
		t.Fatalf("sign-in = %+v, %v; want the ID token and access token kept", res, err)
	}
	got, err := f.EndSessionURL(context.Background(), "on", res.IDToken, "https://gate.test/")
	if err != nil {
		t.Fatalf("EndSessionURL = %v", err)
	}
	u, _ := url.Parse(got)
	q := u.Query()
	if u.Path != "/logout" || q.Get("tenant") != "t1" || q.Get("id_token_hint") != res.IDToken ||
		q.Get("client_id") != p.clientID || q.Get("post_logout_redirect_uri") != "https://gate.test/" {
		t.Errorf("EndSessionURL = %s", got)
	}

	res, err = signIn(t, f, "off")
	if err != nil || res.IDToken != "" || res.AccessToken != "" {
		t.Fatalf("sign-in = %+v, %v; want no provider token kept", res, err)
	}
	if got, err := f.EndSessionURL(context.Background(), "off", "x", ""); got != "" || err != nil {
		t.Errorf("EndSessionURL(off) = %q, %v; want \"\", nil", got, err)
	}
}

// TestProvidersRecheck: a provider that neither manages roles nor
// restricts who may sign in need not be asked again at refresh; one that
// does either must.
func TestProvidersRecheck(t *testing.T) {
	p := startFakeIdP(t)
	plain := p.provider("plain")
	plain.RolesClaim, plain.RoleMap = "", nil
	restricted := p.provider("restricted")
	restricted.RolesClaim, restricted.RoleMap = "", nil
	restricted.AllowedDomains = []string{"example.com"}
	roles := p.provider("roles")
	f, _ := newFed(t, plain, restricted, roles)
	got := map[string]bool{}
	for _, pi := range f.Providers() {
		got[pi.Name] = pi.Recheck
	}
	if want := map[string]bool{"plain": false, "restricted": true, "roles": true}; !maps.Equal(got, want) {
		t.Errorf("Recheck by provider = %v; want %v", got, want)
	}
}
