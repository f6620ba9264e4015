package tokens

import (
	"crypto"
	"fmt"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/internal/problem"
)

// What the OAuth2 provider (package provider, wired by the gateway) needs
// of the access tokens: the key that signs its ID tokens, and the claims of
// a token it is asked to introspect.

// Signer returns the asymmetric key access tokens are signed with and its
// kid, as the JWKS lists it; ok is false with HS256, whose secret no
// client may hold.
func (t *AccessTokens) Signer() (key crypto.Signer, kid string, ok bool) {
	s, ok := t.signKey.(crypto.Signer)
	if !ok {
		return nil, "", false
	}
	return s, t.kid, true
}

// Claims verifies an access token as Verify does — signature, typ, issuer,
// audience, lifetime and the required claims — and returns all of its
// claims, client_id and scope included. It is not cached: introspection
// and userinfo call it, never the protected-route path. Revocation is the
// caller's to check. Every failure wraps problem.ErrInvalidToken.
func (t *AccessTokens) Claims(token string) (*Claims, error) {
	if len(token) > maxTokenBytes {
		return nil, errTokenTooLong
	}
	if !wellFormed(token) {
		return nil, errTokenMalformed
	}
	ks := t.keys.Load()
	var c Claims
	keyFunc := func(tok *jwt.Token) (any, error) { return verificationKey(ks, tok) }
	if _, err := t.parser.ParseWithClaims(token, &c, keyFunc); err != nil {
		return nil, fmt.Errorf("%w: %w", problem.ErrInvalidToken, err)
	}
	if c.IssuedAtMs == nil || c.Subject == "" || c.SessionID == "" || c.ID == "" {
		return nil, fmt.Errorf("%w: iat, sub, sid and jti are required", problem.ErrInvalidToken)
	}
	return &c, nil
}
