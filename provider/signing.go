package provider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	zcrypto "github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// SigningKey is authgate's configured asymmetric key (tokens.algorithm,
// tokens.private_key_file): the one that signs access tokens, and whose
// public half the existing JWKS publishes.
type SigningKey struct {
	Signer    crypto.Signer
	Algorithm string // RS256, ES256 or EdDSA
	KeyID     string // the kid the JWKS lists the key under
}

// typConsent is the JWT "typ" of consent tickets: nothing that verifies
// access tokens (typ at+jwt) or ID tokens (aud = a client id) accepts
// one (RFC 8725 §3.11).
const typConsent = "authgate-consent+jwt"

// signer signs ID tokens and consent tickets with the SigningKey.
type signer struct {
	alg      jose.SignatureAlgorithm
	public   crypto.PublicKey
	idTokens jose.Signer
	consent  jose.Signer
	keys     keySet
}

func newSigner(k SigningKey) (*signer, error) {
	if k.Signer == nil {
		return nil, errors.New("signing key: none given: the provider needs tokens.algorithm RS256, ES256 or EdDSA")
	}
	if k.KeyID == "" {
		return nil, errors.New("signing key: empty key id: clients pick the key from the JWKS by kid")
	}
	pub := k.Signer.Public()
	switch key := pub.(type) {
	case *rsa.PublicKey:
		if k.Algorithm != "RS256" || key.N.BitLen() < 2048 {
			return nil, fmt.Errorf("signing key: an RSA key of %d bits for %s: needs RS256 and at least 2048 bits", key.N.BitLen(), k.Algorithm)
		}
	case *ecdsa.PublicKey:
		if k.Algorithm != "ES256" || key.Curve != elliptic.P256() {
			return nil, fmt.Errorf("signing key: an ECDSA key for %s: needs ES256 and P-256", k.Algorithm)
		}
	case ed25519.PublicKey:
		if k.Algorithm != "EdDSA" {
			return nil, fmt.Errorf("signing key: an Ed25519 key for %s: needs EdDSA", k.Algorithm)
		}
	default:
		return nil, fmt.Errorf("signing key: unsupported key type %T", pub)
	}
	alg := jose.SignatureAlgorithm(k.Algorithm)
	opaque := kidSigner{OpaqueSigner: cryptosigner.Opaque(k.Signer), jwk: &jose.JSONWebKey{Key: pub, KeyID: k.KeyID, Algorithm: k.Algorithm, Use: "sig"}}
	s := &signer{alg: alg, public: pub, keys: keySet{alg: alg, public: pub}}
	var err error
	key := jose.SigningKey{Algorithm: alg, Key: opaque}
	if s.idTokens, err = jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT")); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if s.consent, err = jose.NewSigner(key, (&jose.SignerOptions{}).WithType(typConsent)); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return s, nil
}

// kidSigner is go-jose's signer over a crypto.Signer, with the kid the
// JWKS uses: cryptosigner.Opaque leaves it empty.
type kidSigner struct {
	jose.OpaqueSigner
	jwk *jose.JSONWebKey
}

func (k kidSigner) Public() *jose.JSONWebKey { return k.jwk }

// idTokenInput is what an ID token says.
type idTokenInput struct {
	issuer      string
	clientID    string
	user        *User
	scopes      []string
	nonce       string
	authTime    time.Time
	sessionID   string
	accessToken string // for at_hash
	issuedAt    time.Time
	expires     time.Time
}

// idToken signs an ID token (OIDC Core §2, §3.1.3.6): the registered
// claims, auth_time, nonce, at_hash, sid, and per scope
// preferred_username (profile), email and email_verified (email), roles
// (roles).
func (s *signer) idToken(in idTokenInput) (string, error) {
	c := &oidc.IDTokenClaims{
		TokenClaims: oidc.TokenClaims{
			Issuer:     in.issuer,
			Subject:    in.user.ID,
			Audience:   oidc.Audience{in.clientID},
			Expiration: oidc.FromTime(in.expires),
			IssuedAt:   oidc.FromTime(in.issuedAt),
			AuthTime:   oidc.FromTime(in.authTime),
			Nonce:      in.nonce,
		},
		SessionID: in.sessionID,
	}
	if in.accessToken != "" {
		h, err := oidc.ClaimHash(in.accessToken, s.alg)
		if err != nil {
			return "", fmt.Errorf("at_hash: %w", err)
		}
		c.AccessTokenHash = h
	}
	info := userInfo(in.user, in.scopes)
	c.UserInfoProfile, c.UserInfoEmail, c.Claims = info.UserInfoProfile, info.UserInfoEmail, info.Claims
	tok, err := zcrypto.Sign(c, s.idTokens)
	if err != nil {
		return "", fmt.Errorf("sign ID token: %w", err)
	}
	return tok, nil
}

// userInfo is the claims about u that scopes release (OIDC Core §5.4).
func userInfo(u *User, scopes []string) *oidc.UserInfo {
	info := &oidc.UserInfo{Subject: u.ID}
	if slices.Contains(scopes, ScopeProfile) {
		info.PreferredUsername = u.Username
	}
	if slices.Contains(scopes, ScopeEmail) {
		info.Email, info.EmailVerified = u.Email, oidc.Bool(u.EmailVerified)
	}
	if slices.Contains(scopes, ScopeRoles) {
		roles := u.Roles
		if roles == nil {
			roles = []string{}
		}
		info.AppendClaims("roles", roles)
	}
	return info
}

// keySet verifies our own signatures: ID token hints, which zitadel's
// verifier checks through an oidc.KeySet.
type keySet struct {
	alg    jose.SignatureAlgorithm
	public crypto.PublicKey
}

var _ oidc.KeySet = keySet{}

func (k keySet) VerifySignature(_ context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	for _, sig := range jws.Signatures {
		if sig.Header.Algorithm != string(k.alg) {
			return nil, errors.New("signature algorithm is not ours")
		}
	}
	return jws.Verify(k.public)
}

// verifyHint checks an id_token_hint (OIDC Core §3.1.2.1, RP-Initiated
// Logout §2): an ID token we signed, for our issuer. An expired one is
// accepted, as both specifications allow.
func (s *signer) verifyHint(ctx context.Context, issuer, hint string) (*oidc.IDTokenClaims, error) {
	v := op.NewIDTokenHintVerifier(issuer, s.keys, op.WithSupportedIDTokenHintSigningAlgorithms(string(s.alg)))
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, v)
	var expired op.IDTokenHintExpiredError
	if err != nil && !errors.As(err, &expired) {
		return nil, err
	}
	return claims, nil
}
