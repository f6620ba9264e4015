package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// The signing algorithms authgate supports. Exactly one is configured; a
// token with any other "alg" is invalid (RFC 8725 §3.1).
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

const (
	minSecretBytes   = 32   // RFC 7518 §3.2: a key of the same size as the hash output or larger
	minRSABits       = 2048 // RFC 7518 §3.3
	minSecretSymbols = 8    // distinct bytes; "aaaa…" and "abababab…" are not secrets
)

// weakSecrets are HS256 keys copied from tutorials and samples. Anyone can
// sign tokens with them, so authgate refuses them even when long enough.
var weakSecrets = []string{
	"secret",
	"changeme",
	"change-me",
	"change_me",
	"changethis",
	"password",
	"your-256-bit-secret",                    // jwt.io
	"a-string-secret-at-least-256-bits-long", // jwt.io, since 2025
	"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7", // FastAPI OAuth2/JWT tutorial
	"your-secret-key",
	"your_secret_key",
	"your-jwt-secret",
	"your_jwt_secret",
	"supersecret",
	"super-secret-key",
	"mysecretkey",
	"secretkey",
	"secret-key",
	"jwt-secret",
	"jwtsecret",
	"jwt_secret",
	"secret_key",
	"mysecret",
	"my-secret",
	"my_secret",
	"my-secret-key",
	"super-secret",
	"test",
	"default",
	"your-secret",
	// Supabase's self-hosting sample.
	"your-super-secret-jwt-token-with-at-least-32-characters-long",
	"super-secret-jwt-token-with-at-least-32-characters-long",
}

// errWeakSecret is the refusal of a secret listed in weakSecrets.
var errWeakSecret = errors.New("is a well-known sample secret that anyone can sign tokens with")

// signingMethod maps a configured algorithm to golang-jwt's implementation.
func signingMethod(alg string) jwt.SigningMethod {
	switch alg {
	case AlgHS256:
		return jwt.SigningMethodHS256
	case AlgRS256:
		return jwt.SigningMethodRS256
	case AlgES256:
		return jwt.SigningMethodES256
	case AlgEdDSA:
		return jwt.SigningMethodEdDSA
	}
	return nil
}

// checkSecret enforces the HS256 key rules: long enough, not a well-known
// sample value, and not a trivially repetitive string.
func checkSecret(secret []byte) error {
	norm := strings.ToLower(strings.TrimSpace(string(secret)))
	if slices.Contains(weakSecrets, norm) {
		return fmt.Errorf("%w: generate one with `authgate keygen --alg HS256`", errWeakSecret)
	}
	// A PEM file given as an HS256 secret is almost certainly a public key:
	// using its text as the HMAC key is the classic algorithm-confusion
	// forgery (anyone holding the public key could sign).
	if strings.Contains(string(secret), "-----BEGIN") {
		return errors.New("is a PEM key, not a secret: HS256 needs a random secret; for RS256, ES256 or EdDSA set tokens.algorithm")
	}
	if len(secret) < minSecretBytes {
		return fmt.Errorf("is %d bytes: HS256 needs at least %d (generate one with `authgate keygen --alg HS256`)", len(secret), minSecretBytes)
	}
	var seen [256]bool
	distinct := 0
	for _, b := range secret {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < minSecretSymbols {
		return fmt.Errorf("uses only %d distinct characters: not a random secret (generate one with `authgate keygen --alg HS256`)", distinct)
	}
	return nil
}

// parsePEMKey reads the first key in a PEM file: a private key in PKCS#8,
// PKCS#1 (RSA) or SEC1 (EC) form, a public key in PKIX or PKCS#1 form, or a
// certificate (its public key). Blocks that hold no key, such as the
// "EC PARAMETERS" that openssl ecparam writes, are skipped.
func parsePEMKey(data []byte) (any, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM key found")
		}
		if _, ok := block.Headers["Proc-Type"]; ok {
			return nil, errors.New("encrypted PEM keys are not supported")
		}
		switch block.Type {
		case "PRIVATE KEY":
			return x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		case "PUBLIC KEY":
			return x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			return x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			return cert.PublicKey, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted PEM keys are not supported")
		}
	}
}

// publicKey returns the public half of a parsed key, or the key itself when
// it is already public.
func publicKey(key any) crypto.PublicKey {
	if s, ok := key.(crypto.Signer); ok {
		return s.Public()
	}
	return key
}

// checkPublicKey reports whether pub can verify alg signatures under
// authgate's rules: RSA of at least 2048 bits, ECDSA on P-256 only, Ed25519.
func checkPublicKey(alg string, pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg != AlgRS256 {
			return fmt.Errorf("is an RSA key; algorithm %s needs %s", alg, keyKind(alg))
		}
		if bits := k.N.BitLen(); bits < minRSABits {
			return fmt.Errorf("is a %d-bit RSA key; RS256 needs at least %d bits", bits, minRSABits)
		}
	case *ecdsa.PublicKey:
		if alg != AlgES256 {
			return fmt.Errorf("is an EC key; algorithm %s needs %s", alg, keyKind(alg))
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("is an EC key on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		if alg != AlgEdDSA {
			return fmt.Errorf("is an Ed25519 key; algorithm %s needs %s", alg, keyKind(alg))
		}
	default:
		return fmt.Errorf("holds an unsupported key type %T; algorithm %s needs %s", pub, alg, keyKind(alg))
	}
	return nil
}

func keyKind(alg string) string {
	switch alg {
	case AlgRS256:
		return "an RSA key of at least 2048 bits"
	case AlgES256:
		return "an EC P-256 key"
	case AlgEdDSA:
		return "an Ed25519 key"
	}
	return "a secret"
}

// secretKid names an HS256 key without revealing it: a truncated SHA-256 of
// the secret under a label, so the kid cannot be confused with a hash of the
// secret used anywhere else. (Anyone holding a token can already test secret
// guesses against its signature; the kid adds nothing to that.)
func secretKid(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("authgate HS256 key id v1\x00"))
	h.Write(secret)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256) of a public key: the
// hash of its required JWK members in lexicographic order, no whitespace.
func thumbprint(pub crypto.PublicKey) (string, error) {
	j, err := publicJWK(pub)
	if err != nil {
		return "", err
	}
	var canon string
	switch j.Kty {
	case "RSA": // RFC 7638 §3.2
		canon = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	case "EC":
		canon = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	case "OKP": // RFC 8037 §2
		canon = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	}
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// publicJWK encodes a public key's JWK members (RFC 7518 §6, RFC 8037 §2).
func publicJWK(pub crypto.PublicKey) (jwk, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return jwk{}, errors.New("only P-256 EC keys are supported")
		}
		point, err := k.Bytes() // 0x04 || X || Y, each 32 bytes
		if err != nil {
			return jwk{}, err
		}
		return jwk{Kty: "EC", Crv: "P-256", X: b64(point[1:33]), Y: b64(point[33:])}, nil
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64(k)}, nil
	}
	return jwk{}, fmt.Errorf("unsupported key type %T", pub)
}

// sameKey reports whether two verification keys are identical.
func sameKey(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && string(ab) == string(bb)
	}
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// DerivedKey derives a 256-bit key for one purpose (label) from the
// signing key: HKDF-SHA256 (RFC 5869) over the HS256 secret, or over the
// PKCS #8 encoding of the private key. Every instance with the same signing
// key derives the same key; the label keeps the uses apart.
func (t *AccessTokens) DerivedKey(label string) ([]byte, error) {
	var material []byte
	switch k := t.signKey.(type) {
	case []byte:
		material = k
	default:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("derive %s key: %w", label, err)
		}
		material = der
	}
	return hkdf.Key(sha256.New, material, nil, label, 32)
}
