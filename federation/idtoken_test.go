package federation

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestIDTokenRejects mints the ID tokens an attacker or a broken provider
// would send, each otherwise valid (right nonce, fresh, signed by the
// provider's key unless the case is about the signature), and checks
// Callback refuses every one with ErrIDTokenInvalid — and takes a good one.
func TestIDTokenRejects(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(p *fakeIdP)
		want  error // nil: accepted
	}{
		{name: "ok-provider-signed"},
		{name: "fail-another-issuer", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) { c["iss"] = "https://other-issuer.example" }
		}},
		{name: "fail-another-audience", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) { c["aud"] = "another-client" }
		}},
		{name: "fail-azp-another-party", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) { c["aud"] = []any{p.clientID, "another-client"}; c["azp"] = "another-client" }
		}},
		{name: "fail-alg-none", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.sign = func(c jwt.MapClaims) string {
				s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
				if err != nil {
					panic(err)
				}
				return s
			}
		}},
		{name: "fail-hs256-with-client-secret", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			// The provider advertises RS256 only; a token MACed with the
			// client secret (which authgate knows, so "verifies") must
			// not pass: anyone with the secret could mint it.
			p.sign = func(c jwt.MapClaims) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
				tok.Header["kid"] = "k1"
				s, err := tok.SignedString([]byte(p.clientSecret))
				if err != nil {
					panic(err)
				}
				return s
			}
		}},
		{name: "fail-hs256-even-when-advertised", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.algs = []string{"RS256", "HS256"}
			p.sign = func(c jwt.MapClaims) string {
				s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(p.clientSecret))
				return s
			}
		}},
		{name: "fail-another-key", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.sign = func(c jwt.MapClaims) string { return p.signRS256(c, other) }
		}},
		{name: "fail-expired", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) {
				c["iat"] = time.Now().Add(-time.Hour).Unix()
				c["exp"] = time.Now().Add(-time.Minute).Unix()
			}
		}},
		{name: "fail-no-nonce", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) { delete(c, "nonce") }
		}},
		{name: "fail-no-subject", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) { delete(c, "sub") }
		}},
		{name: "fail-at-hash", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }
		}},
		{name: "fail-userinfo-about-another-subject", want: ErrIDTokenInvalid, setup: func(p *fakeIdP) {
			p.shape = func(c jwt.MapClaims) { delete(c, "email") }
			p.userinfo = map[string]any{"sub": "someone-else", "email": "ann@example.com", "email_verified": true}
		}},
		{name: "fail-jwks-unreachable", want: ErrProviderUnavailable, setup: func(p *fakeIdP) {
			p.jwksDown = true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startFakeIdP(t)
			if tt.setup != nil {
				p.set(tt.setup)
			}
			f, logs := newFed(t, p.provider("fake"))
			res, err := signIn(t, f, "fake")
			if tt.want == nil {
				if err != nil || res.Subject != "fake-1" || !slices.Equal(res.Roles, []string{"staff"}) {
					t.Fatalf("sign-in = %+v, %v; want fake-1 with [staff]", res, err)
				}
				return
			}
			wantErr(t, "Callback", err, tt.want)
			if tt.want == ErrIDTokenInvalid && errors.Is(err, ErrProviderUnavailable) {
				t.Errorf("Callback = %v: a bad token is not an outage", err)
			}
			noSecrets(t, "error", err.Error(), p.clientSecret)
			noSecrets(t, "logs", logs.String(), p.clientSecret)
		})
	}
}

// TestUserinfoFillsClaims: a provider that keeps email and groups out of
// the ID token (OIDC Core §5.4) has them read from userinfo; what the ID
// token says wins.
func TestUserinfoFillsClaims(t *testing.T) {
	p := startFakeIdP(t)
	p.set(func(p *fakeIdP) {
		p.claims = map[string]any{"sub": "fake-1", "name": "From ID token"}
		p.userinfo = map[string]any{"sub": "fake-1", "name": "From userinfo", "email": "ann@example.com",
			"email_verified": "true", "groups": []any{"staff", "not a role", "ops"}}
	})
	f, _ := newFed(t, p.provider("fake"))
	res, err := signIn(t, f, "fake")
	if err != nil {
		t.Fatalf("sign-in = %v", err)
	}
	if res.Email != "ann@example.com" || !res.EmailVerified || res.Name != "From ID token" ||
		!slices.Equal(res.Roles, []string{"ops", "staff"}) {
		t.Errorf("Result = %+v; want email from userinfo, name from the ID token, roles [ops staff]", res)
	}
}

// TestDiscoveryRefusesSymmetricOnly: a provider whose discovery lists only
// HS256 and none is refused outright rather than trusted with either.
func TestDiscoveryRefusesSymmetricOnly(t *testing.T) {
	p := startFakeIdP(t)
	p.set(func(p *fakeIdP) { p.algs = []string{"HS256", "none"} })
	f, _ := newFed(t, p.provider("fake"))
	err := f.Begin(newRecorder(), newRequest("/auth/login/fake"), "fake", "/")
	wantErr(t, "Begin", err, ErrProviderUnavailable)
}

// TestDiscoveryRetried: a provider down at first use is discovered once it
// is back, without a restart.
func TestDiscoveryRetried(t *testing.T) {
	p := startFakeIdP(t)
	p.set(func(p *fakeIdP) { p.discoveryDown = true })
	f, logs := newFed(t, p.provider("fake"))
	err := f.Begin(newRecorder(), newRequest("/auth/login/fake"), "fake", "/")
	wantErr(t, "Begin", err, ErrProviderUnavailable)
	if logs.String() == "" {
		t.Errorf("a discovery failure was not logged")
	}
	p.set(func(p *fakeIdP) { p.discoveryDown = false })
	if _, err := signIn(t, f, "fake"); err != nil {
		t.Errorf("sign-in after the provider came back = %v", err)
	}
}
