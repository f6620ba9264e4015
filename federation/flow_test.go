package federation

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// TestSignInMock is the happy path against mockoidc: the redirect carries
// PKCE S256, state and nonce; the flow cookie is __Host-, HttpOnly,
// Secure, SameSite=Lax and short-lived, and is cleared by the callback; the
// Result holds the verified identity and the mapped roles, and nothing
// secret reaches the logs.
func TestSignInMock(t *testing.T) {
	m := startMock(t)
	pc := mockProvider(m, "corp")
	pc.RolesClaim = "groups"
	pc.RoleMap = map[string][]string{"engineering": {"dev"}, "design": {"dev", "ux"}}
	pc.AllowedDomains = []string{"EXAMPLE.com"}
	f, logs := newFed(t, pc)

	fl := begin(t, f, "corp", "/after?x=1")
	q := fl.authorize.Query()
	for k, want := range map[string]string{
		"response_type":         "code",
		"client_id":             pc.ClientID,
		"redirect_uri":          "https://gate.test/auth/callback/corp",
		"code_challenge_method": "S256",
		"scope":                 "openid email profile groups",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s = %q; want %q", k, got, want)
		}
	}
	// RFC 7636 §4.2: base64url of a SHA-256 is 43 characters.
	if len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 22 || len(q.Get("nonce")) < 22 {
		t.Errorf("authorize: code_challenge %q, state %q, nonce %q: want S256 and 128-bit values", q.Get("code_challenge"), q.Get("state"), q.Get("nonce"))
	}
	c := fl.cookie
	if c.Name != "__Host-authgate-federation" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode ||
		c.Path != "/" || c.Domain != "" || c.MaxAge != 600 {
		t.Errorf("flow cookie = %+v; want __Host-, HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, Max-Age=600", c)
	}
	noSecrets(t, "flow cookie", c.Value, q.Get("state"), q.Get("nonce"))

	cb := atProvider(t, fl.authorize)
	res, w, err := callback(f, cb, fl.cookie)
	if err != nil {
		t.Fatalf("Callback = %v", err)
	}
	if cleared := w.Result().Cookies(); len(cleared) != 1 || cleared[0].Name != c.Name || cleared[0].MaxAge >= 0 {
		t.Errorf("Callback cookies = %v; want the flow cookie cleared", cleared)
	}
	user := mockoidc.DefaultUser()
	want := Result{
		Provider: "corp", Issuer: m.Issuer(), Subject: user.Subject,
		Email: user.Email, EmailVerified: true, Username: user.PreferredUsername,
		Roles: []string{"dev", "ux"}, ManagesRoles: true,
		ReturnTo: "/after?x=1", AllowSignup: true,
	}
	got := *res
	if got.RefreshToken == "" || got.Expiry.IsZero() {
		t.Errorf("Result has no refresh token or expiry: %+v", got)
	}
	got.RefreshToken, got.Expiry = "", time.Time{}
	if !resultEqual(got, want) {
		t.Errorf("Result = %+v;\nwant     %+v", got, want)
	}
	if res.IDToken != "" || res.AccessToken != "" {
		t.Errorf("Result kept provider tokens with end_session and pass_token off")
	}
	noSecrets(t, "logs", logs.String(), cb.Query().Get("code"), q.Get("state"), q.Get("nonce"), res.RefreshToken, pc.ClientSecret)

	roles, rt, err := f.RefreshRoles(context.Background(), "corp", res.Subject, res.RefreshToken)
	if err != nil || !slices.Equal(roles, []string{"dev", "ux"}) || rt == "" {
		t.Errorf("RefreshRoles = %v, %.8q…, %v; want [dev ux], a refresh token, nil", roles, rt, err)
	}
}

func resultEqual(a, b Result) bool {
	return a.Provider == b.Provider && a.Issuer == b.Issuer && a.Subject == b.Subject &&
		a.Email == b.Email && a.EmailVerified == b.EmailVerified && a.Username == b.Username &&
		a.Name == b.Name && slices.Equal(a.Roles, b.Roles) && a.ManagesRoles == b.ManagesRoles &&
		a.RefreshToken == b.RefreshToken && a.IDToken == b.IDToken && a.AccessToken == b.AccessToken &&
		a.ReturnTo == b.ReturnTo && a.AllowSignup == b.AllowSignup && a.TrustedEmail == b.TrustedEmail
}

// TestCallbackRejectsMock covers what a browser, an attacker or mockoidc can
// get wrong around a real code: each case must end in its sentinel, and no
// error text may repeat the code.
func TestCallbackRejectsMock(t *testing.T) {
	tests := []struct {
		name string
		pc   func(*ProviderConfig)
		user mockoidc.User
		// run does the flow its own way and returns Callback's error and
		// the code it used.
		run  func(t *testing.T, f *Federation) (error, string)
		want error
	}{
		{name: "fail-wrong-state", want: ErrFlowInvalid, run: func(t *testing.T, f *Federation) (error, string) {
			fl := begin(t, f, "corp", "/")
			cb := atProvider(t, fl.authorize)
			cb = withQuery(cb, "state", "not-the-state")
			_, _, err := callback(f, cb, fl.cookie)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-no-cookie", want: ErrFlowInvalid, run: func(t *testing.T, f *Federation) (error, string) {
			cb := atProvider(t, begin(t, f, "corp", "/").authorize)
			_, _, err := callback(f, cb, nil)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-another-flows-cookie", want: ErrFlowInvalid, run: func(t *testing.T, f *Federation) (error, string) {
			// Login CSRF: the attacker's callback, the victim's cookie.
			victim := begin(t, f, "corp", "/")
			attacker := begin(t, f, "corp", "/")
			cb := atProvider(t, attacker.authorize)
			_, _, err := callback(f, cb, victim.cookie)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-tampered-cookie", want: ErrSealed, run: func(t *testing.T, f *Federation) (error, string) {
			fl := begin(t, f, "corp", "/")
			cb := atProvider(t, fl.authorize)
			c := *fl.cookie
			c.Value = c.Value[:len(c.Value)-2] + "AA"
			_, _, err := callback(f, cb, &c)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-flow-expired", want: ErrFlowInvalid, run: func(t *testing.T, f *Federation) (error, string) {
			fl := begin(t, f, "corp", "/")
			cb := atProvider(t, fl.authorize)
			f.now = func() time.Time { return time.Now().Add(11 * time.Minute) }
			_, _, err := callback(f, cb, fl.cookie)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-other-providers-callback", want: ErrFlowInvalid, run: func(t *testing.T, f *Federation) (error, string) {
			fl := begin(t, f, "corp", "/")
			cb := atProvider(t, fl.authorize)
			cb.Path = "/auth/callback/other"
			_, _, err := callback(f, cb, fl.cookie)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-iss-mix-up", want: ErrFlowInvalid, run: func(t *testing.T, f *Federation) (error, string) {
			fl := begin(t, f, "corp", "/")
			cb := withQuery(atProvider(t, fl.authorize), "iss", "https://evil.example")
			_, _, err := callback(f, cb, fl.cookie)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-provider-error", want: ErrProviderDenied, run: func(t *testing.T, f *Federation) (error, string) {
			fl := begin(t, f, "corp", "/")
			cb := &url.URL{Scheme: "https", Host: gateHost, Path: "/auth/callback/corp", RawQuery: url.Values{
				"state": {fl.authorize.Query().Get("state")}, "error": {"access_denied"},
				"error_description": {"secret-description"},
			}.Encode()}
			_, _, err := callback(f, cb, fl.cookie)
			return err, "secret-description"
		}},
		{name: "fail-replayed-code", want: ErrCodeRejected, run: func(t *testing.T, f *Federation) (error, string) {
			fl := begin(t, f, "corp", "/")
			cb := atProvider(t, fl.authorize)
			if _, _, err := callback(f, cb, fl.cookie); err != nil {
				t.Fatalf("first Callback = %v", err)
			}
			// The same callback again, cookie and all (a captured
			// redirect replayed): the provider refuses the used code.
			_, _, err := callback(f, cb, fl.cookie)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-wrong-nonce", want: ErrIDTokenInvalid, run: func(t *testing.T, f *Federation) (error, string) {
			// The provider issues an ID token for another nonce (an ID
			// token from another flow): PKCE and state are right.
			fl := begin(t, f, "corp", "/")
			cb := atProvider(t, withQuery(fl.authorize, "nonce", "someone-elses-nonce"))
			_, _, err := callback(f, cb, fl.cookie)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-expired-id-token", want: ErrIDTokenInvalid, run: func(t *testing.T, f *Federation) (error, string) {
			// mockoidc's ID tokens live 10 minutes. The flow may take an
			// hour here, so only the ID token has expired 11 minutes on.
			f.ttl = time.Hour
			fl := begin(t, f, "corp", "/")
			cb := atProvider(t, fl.authorize)
			f.now = func() time.Time { return time.Now().Add(11 * time.Minute) }
			_, _, err := callback(f, cb, fl.cookie)
			return err, cb.Query().Get("code")
		}},
		{name: "fail-unverified-email-for-domain", want: ErrEmailNotVerified,
			pc:   func(pc *ProviderConfig) { pc.AllowedDomains = []string{"example.com"} },
			user: &mockoidc.MockUser{Subject: "u2", Email: "eve@example.com", EmailVerified: false},
			run:  signInCode},
		{name: "fail-disallowed-domain", want: ErrNotAllowed,
			pc:   func(pc *ProviderConfig) { pc.AllowedDomains = []string{"example.com"} },
			user: &mockoidc.MockUser{Subject: "u3", Email: "eve@example.com.evil.test", EmailVerified: true},
			run:  signInCode},
		{name: "fail-required-claim", want: ErrNotAllowed,
			pc:  func(pc *ProviderConfig) { pc.RequiredClaims = map[string]string{"groups": "admins"} },
			run: signInCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := startMock(t)
			if tt.user != nil {
				m.QueueUser(tt.user)
			}
			pc := mockProvider(m, "corp")
			if tt.pc != nil {
				tt.pc(&pc)
			}
			other := mockProvider(m, "other")
			f, logs := newFed(t, pc, other)
			err, code := tt.run(t, f)
			wantErr(t, "Callback", err, tt.want)
			noSecrets(t, "error", err.Error(), code, pc.ClientSecret)
			noSecrets(t, "logs", logs.String(), code, pc.ClientSecret)
		})
	}
}

func signInCode(t *testing.T, f *Federation) (error, string) {
	fl := begin(t, f, "corp", "/")
	cb := atProvider(t, fl.authorize)
	_, _, err := callback(f, cb, fl.cookie)
	return err, cb.Query().Get("code")
}

func withQuery(u *url.URL, k, v string) *url.URL {
	c := *u
	q := c.Query()
	q.Set(k, v)
	c.RawQuery = q.Encode()
	return &c
}

// nestedUser is a mockoidc user whose ID token carries Keycloak's nested
// realm_access.roles.
type nestedUser struct {
	mockoidc.MockUser
	realmRoles []string
}

func (u *nestedUser) Claims(scopes []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &struct {
		*mockoidc.IDTokenClaims
		Email         string         `json:"email"`
		EmailVerified bool           `json:"email_verified"`
		RealmAccess   map[string]any `json:"realm_access"`
	}{base, u.Email, true, map[string]any{"roles": u.realmRoles}}, nil
}

// TestSignInNestedRolesMock maps Keycloak's realm_access.roles through
// role_map end to end; unmapped values grant nothing.
func TestSignInNestedRolesMock(t *testing.T) {
	m := startMock(t)
	m.QueueUser(&nestedUser{
		MockUser:   mockoidc.MockUser{Subject: "kc-1", Email: "kc@example.com"},
		realmRoles: []string{"offline_access", "app-admin", "uma_authorization"},
	})
	pc := mockProvider(m, "keycloak")
	pc.RolesClaim = "realm_access.roles"
	pc.RoleMap = map[string][]string{"app-admin": {"admin"}}
	f, _ := newFed(t, pc)
	res, err := signIn(t, f, "keycloak")
	if err != nil {
		t.Fatalf("sign-in = %v", err)
	}
	if !slices.Equal(res.Roles, []string{"admin"}) || res.Subject != "kc-1" {
		t.Errorf("Result roles %v, subject %q; want [admin], kc-1", res.Roles, res.Subject)
	}
}

// TestBeginRefuses: unknown providers and oversized return paths are
// refused before anything is written.
func TestBeginRefuses(t *testing.T) {
	m := startMock(t)
	f, _ := newFed(t, mockProvider(m, "corp"))
	for _, tt := range []struct {
		name, provider, returnTo string
		want                     error
	}{
		{"fail-unknown-provider", "nope", "/", ErrUnknownProvider},
		{"fail-long-return", "corp", "/" + strings.Repeat("a", MaxReturnTo), ErrFlowInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newRecorder()
			err := f.Begin(w, newRequest("/auth/login/"+tt.provider), tt.provider, tt.returnTo)
			wantErr(t, "Begin", err, tt.want)
			if len(w.Header()) != 0 || w.Body.Len() != 0 {
				t.Errorf("Begin wrote %v %q on error", w.Header(), w.Body)
			}
		})
	}
}
