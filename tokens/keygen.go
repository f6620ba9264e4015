package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
)

// keygenRSABits is the size of generated RSA keys: 3072 bits gives about
// 128-bit security (NIST SP 800-57), where 2048 gives 112.
const keygenRSABits = 3072

// Keygen returns a new signing key for alg, ready to save: for RS256,
// ES256 (P-256) and EdDSA (Ed25519) a PKCS#8 private key in PEM, for
// tokens.private_key_file; for HS256 a line holding 32 random bytes in
// base64url, for tokens.secret.
func Keygen(alg string) (string, error) {
	var key any
	var err error
	switch alg {
	case AlgHS256:
		var raw [32]byte
		rand.Read(raw[:]) // never fails (crypto/rand, Go 1.24+)
		return base64.RawURLEncoding.EncodeToString(raw[:]) + "\n", nil
	case AlgRS256:
		key, err = rsa.GenerateKey(rand.Reader, keygenRSABits)
	case AlgES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return "", fmt.Errorf("keygen: algorithm %q is not supported: must be one of HS256, RS256, ES256, EdDSA", alg)
	}
	if err != nil {
		return "", fmt.Errorf("keygen %s: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("keygen %s: %w", alg, err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}
