package tokens

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/internal/problem"
)

func TestLegacyVerifier(t *testing.T) {
	now := time.Date(2027, 1, 10, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	const secret = "the original's SECRET_KEY"
	sign := func(claims jwt.MapClaims, alg jwt.SigningMethod, key string) string {
		s, err := jwt.NewWithClaims(alg, claims).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := now.Add(15 * time.Minute).Unix()
	tests := []struct {
		name    string
		cfg     *LegacyConfig
		token   string
		want    string
		wantErr bool
	}{
		{name: "ok", cfg: &LegacyConfig{Secret: secret, AcceptUntil: "2027-01-10"}, token: sign(jwt.MapClaims{"sub": "lena", "exp": exp}, jwt.SigningMethodHS256, secret), want: "lena"},
		{name: "ok-hs512", cfg: &LegacyConfig{Secret: secret, Algorithm: "HS512", AcceptUntil: "2027-01-11T00:00:00Z"}, token: sign(jwt.MapClaims{"sub": "lena", "exp": exp}, jwt.SigningMethodHS512, secret), want: "lena"},
		{name: "fail-no-block", cfg: nil, token: sign(jwt.MapClaims{"sub": "lena", "exp": exp}, jwt.SigningMethodHS256, secret), wantErr: true},
		{name: "fail-after-date", cfg: &LegacyConfig{Secret: secret, AcceptUntil: "2027-01-09"}, token: sign(jwt.MapClaims{"sub": "lena", "exp": exp}, jwt.SigningMethodHS256, secret), wantErr: true},
		{name: "fail-after-time", cfg: &LegacyConfig{Secret: secret, AcceptUntil: "2027-01-10T12:00:00Z"}, token: sign(jwt.MapClaims{"sub": "lena", "exp": exp}, jwt.SigningMethodHS256, secret), wantErr: true},
		{name: "fail-wrong-secret", cfg: &LegacyConfig{Secret: secret, AcceptUntil: "2027-01-10"}, token: sign(jwt.MapClaims{"sub": "lena", "exp": exp}, jwt.SigningMethodHS256, "another"), wantErr: true},
		{name: "fail-other-alg", cfg: &LegacyConfig{Secret: secret, AcceptUntil: "2027-01-10"}, token: sign(jwt.MapClaims{"sub": "lena", "exp": exp}, jwt.SigningMethodHS512, secret), wantErr: true},
		{name: "fail-expired", cfg: &LegacyConfig{Secret: secret, AcceptUntil: "2027-01-10"}, token: sign(jwt.MapClaims{"sub": "lena", "exp": now.Add(-time.Minute).Unix()}, jwt.SigningMethodHS256, secret), wantErr: true},
		{name: "fail-no-exp", cfg: &LegacyConfig{Secret: secret, AcceptUntil: "2027-01-10"}, token: sign(jwt.MapClaims{"sub": "lena"}, jwt.SigningMethodHS256, secret), wantErr: true},
		// One of authgate's own shapes under a shared secret: never legacy.
		{name: "fail-authgate-claims", cfg: &LegacyConfig{Secret: secret, AcceptUntil: "2027-01-10"}, token: sign(jwt.MapClaims{"sub": "7", "exp": exp, "iss": "authgate", "aud": "authgate"}, jwt.SigningMethodHS256, secret), wantErr: true},
		{name: "fail-garbage", cfg: &LegacyConfig{Secret: secret, AcceptUntil: "2027-01-10"}, token: "not-a-token", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewLegacyVerifier(tt.cfg, clock)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(tt.token)
			if (err != nil) != tt.wantErr || got.Username != tt.want {
				t.Fatalf("Verify = %+v, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, problem.ErrInvalidToken) {
				t.Errorf("Verify error %v; want problem.ErrInvalidToken", err)
			}
		})
	}
}

func TestLegacyConfigValidate(t *testing.T) {
	c := Config{Legacy: &LegacyConfig{Algorithm: "RS256", AcceptUntil: "next week"}}
	c.Secret = "0123456789abcdef0123456789abcdef"
	c.SetDefaults()
	err := c.Validate()
	for _, want := range []string{"tokens.legacy.secret", "tokens.legacy.algorithm", "tokens.legacy.accept_until"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want a problem at %s", err, want)
		}
	}
}
