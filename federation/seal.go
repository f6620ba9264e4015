package federation

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Key derivation labels: the HKDF-SHA256 "info" (RFC 5869 §3.2) that turns
// the one secret the caller provides into a key per use, so that a value
// sealed for one use can never be opened as another. Changing a label makes
// everything sealed under it unreadable.
const (
	// LabelFlowCookie keys the sign-in flow cookie.
	LabelFlowCookie = "authgate federation flow cookie v1"
	// LabelProviderToken keys provider refresh (and ID) tokens stored at
	// rest by the accounts layer.
	LabelProviderToken = "authgate federation provider token v1"
)

// MinSecretLen is the shortest secret New and NewTokenCipher accept: 256
// bits, the AES key size derived from it.
const MinSecretLen = 32

// sealedPrefix versions the sealed format, so another algorithm can be
// introduced without guessing what a stored value is.
const sealedPrefix = "v1."

// TokenCipher seals short secrets (a provider's refresh token, an ID token
// kept for logout) for storage: AES-256-GCM under a key derived with
// HKDF-SHA256 from the caller's secret and a label, a fresh random 96-bit
// nonce per value, and the row's identity as additional data, so a sealed
// value copied into another row does not open.
//
// Sealed form: "v1." + base64url(nonce || ciphertext || tag).
type TokenCipher struct {
	aead cipher.AEAD
}

// NewTokenCipher returns the cipher for provider tokens at rest
// (LabelProviderToken). secret must be at least MinSecretLen bytes of
// high-entropy key material; the same secret must be given to every
// instance, and changing it makes the stored tokens unreadable (their users
// then sign in at the provider again).
func NewTokenCipher(secret []byte) (*TokenCipher, error) {
	return newCipher(secret, LabelProviderToken)
}

func newCipher(secret []byte, label string) (*TokenCipher, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("federation secret is %d bytes: at least %d are needed", len(secret), MinSecretLen)
	}
	// No salt: the secret is already uniformly random key material
	// (RFC 5869 §3.1 makes the salt optional then); the label separates uses.
	key, err := hkdf.Key(sha256.New, secret, nil, label, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	return &TokenCipher{aead: aead}, nil
}

// Seal encrypts plaintext bound to context (for a stored token: the issuer
// and subject it belongs to, e.g. issuer + "\x00" + subject).
func (c *TokenCipher) Seal(plaintext, context string) (string, error) {
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(plaintext)+c.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := c.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal made with the same context. Anything else —
// tampered, truncated, another context, another secret — is ErrSealed.
func (c *TokenCipher) Open(sealed, context string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", fmt.Errorf("%w: unknown format", ErrSealed)
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < c.aead.NonceSize()+c.aead.Overhead() {
		return "", fmt.Errorf("%w: malformed", ErrSealed)
	}
	ns := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, raw[:ns], raw[ns:], []byte(context))
	if err != nil {
		return "", fmt.Errorf("%w: authentication failed", ErrSealed)
	}
	return string(plain), nil
}
