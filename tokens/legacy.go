package tokens

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/problem"
)

// Legacy tokens are those of the FastAPI original authgate replaces
// (issue 12): HS256 JWTs whose only claims are sub (the username) and exp,
// with no iss, aud, iat or token type — its access and refresh tokens
// differ only in exp. Under tokens.legacy they are accepted across the
// cutover, until accept_until, so that nobody has to log in again.

// LegacyConfig is tokens.legacy. Absent (nil): legacy tokens are never
// accepted.
type LegacyConfig struct {
	// Secret is the original's SECRET_KEY.
	Secret string `yaml:"secret"`
	// Algorithm is the original's ALGORITHM: HS256 (default), HS384 or
	// HS512.
	Algorithm string `yaml:"algorithm"`
	// AcceptUntil ends the acceptance: a date (2027-01-31, accepted through
	// the end of that day, UTC) or an RFC 3339 time. Required: legacy
	// tokens are a bridge, not a second way in.
	AcceptUntil string `yaml:"accept_until"`
}

// acceptUntil parses AcceptUntil: the first instant legacy tokens are
// refused.
func (c *LegacyConfig) acceptUntil() (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, c.AcceptUntil); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	if t, err := time.Parse(time.RFC3339, c.AcceptUntil); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2027-01-31) or an RFC 3339 time (2027-01-31T12:00:00Z)", c.AcceptUntil)
}

// validate reports the problems of the block, at tokens.legacy.* paths.
func (c *LegacyConfig) validate(p *conf.Problems) {
	if c.Secret == "" {
		p.Addf("tokens.legacy.secret", "required: the FastAPI service's SECRET_KEY")
	}
	switch c.Algorithm {
	case "", "HS256", "HS384", "HS512":
	default:
		p.Addf("tokens.legacy.algorithm", "%q must be HS256, HS384 or HS512 (the FastAPI service's ALGORITHM)", c.Algorithm)
	}
	if c.AcceptUntil == "" {
		p.Addf("tokens.legacy.accept_until", "required: the date after which the FastAPI service's tokens are refused")
	} else if _, err := c.acceptUntil(); err != nil {
		p.Add("tokens.legacy.accept_until", err)
	}
}

// LegacyToken is what a verified legacy token says.
type LegacyToken struct {
	Username  string
	ExpiresAt time.Time
}

// LegacyVerifier verifies the original's tokens. Its zero value (and nil)
// accepts none.
type LegacyVerifier struct {
	secret []byte
	until  time.Time
	parser *jwt.Parser
	now    func() time.Time
}

// NewLegacyVerifier builds the verifier of a validated tokens.legacy
// block; nil cfg is nil, which accepts nothing.
func NewLegacyVerifier(cfg *LegacyConfig, now func() time.Time) (*LegacyVerifier, error) {
	if cfg == nil {
		return nil, nil
	}
	var p conf.Problems
	cfg.validate(&p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	until, _ := cfg.acceptUntil()
	alg := cfg.Algorithm
	if alg == "" {
		alg = "HS256"
	}
	v := &LegacyVerifier{secret: []byte(cfg.Secret), until: until, now: now}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{alg}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	)
	return v, nil
}

// AcceptUntil is the first instant legacy tokens are refused.
func (v *LegacyVerifier) AcceptUntil() time.Time { return v.until }

// Verify checks a token of the original: its signature with the legacy
// secret, its expiry, and that it is one — exactly the claims sub and exp,
// so that no token authgate signs (which all carry iss, aud and more) is
// ever read as one, even under a shared secret. After accept_until, and
// with no tokens.legacy block, every token is problem.ErrInvalidToken.
func (v *LegacyVerifier) Verify(token string) (LegacyToken, error) {
	if v == nil || v.parser == nil || !v.now().Before(v.until) {
		return LegacyToken{}, problem.ErrInvalidToken
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return v.secret, nil })
	if err != nil {
		return LegacyToken{}, fmt.Errorf("%w: legacy: %w", problem.ErrInvalidToken, err)
	}
	sub, ok := claims["sub"].(string)
	if !ok || sub == "" || len(claims) != 2 {
		return LegacyToken{}, fmt.Errorf("%w: legacy: want exactly the claims sub and exp", problem.ErrInvalidToken)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return LegacyToken{}, errors.Join(problem.ErrInvalidToken, err)
	}
	return LegacyToken{Username: sub, ExpiresAt: exp.Time}, nil
}
