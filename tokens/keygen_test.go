package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
)

// Every key Keygen prints is accepted by NewTokens and signs tokens that
// verify.
func TestKeygenOutputAccepted(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			out, err := Keygen(alg)
			if err != nil {
				t.Fatalf("Keygen(%s) = %v", alg, err)
			}
			again, _ := Keygen(alg)
			if again == out {
				t.Fatalf("Keygen(%s) printed the same key twice", alg)
			}
			cfg := testConfig(t, alg)
			cfg.VerifyKeys = nil
			if alg == AlgHS256 {
				line := strings.TrimSuffix(out, "\n")
				if raw, err := base64.RawURLEncoding.Strict().DecodeString(line); err != nil || len(raw) != 32 || !strings.HasSuffix(out, "\n") {
					t.Fatalf("Keygen(HS256) = %q; want one line of 32 bytes in base64url", out)
				}
				cfg.Secret = line
			} else {
				if !strings.HasPrefix(out, "-----BEGIN PRIVATE KEY-----\n") {
					t.Fatalf("Keygen(%s) = %.40q…; want a PKCS#8 PEM block", alg, out)
				}
				cfg.PrivateKeyFile = writeTestFile(t, "key.pem", []byte(out))
				key, err := parsePEMKey([]byte(out))
				if err != nil {
					t.Fatal(err)
				}
				switch k := key.(type) {
				case *rsa.PrivateKey:
					if k.N.BitLen() != keygenRSABits {
						t.Fatalf("Keygen(RS256) made a %d-bit key; want %d", k.N.BitLen(), keygenRSABits)
					}
				case *ecdsa.PrivateKey:
					if k.Curve != elliptic.P256() {
						t.Fatalf("Keygen(ES256) made a key on %s; want P-256", k.Curve.Params().Name)
					}
				case ed25519.PrivateKey:
				default:
					t.Fatalf("Keygen(%s) made a %T", alg, key)
				}
			}
			tokens, err := New(cfg, Options{})
			if err != nil {
				t.Fatalf("New(Keygen(%s)) = %v", alg, err)
			}
			tok, _, err := tokens.Issue("42", IssueInput{SessionID: "s"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tokens.Verify(tok); err != nil {
				t.Fatalf("Verify(Issue()) with a generated key = %v", err)
			}
		})
	}
}

func TestKeygenRefusesUnknownAlgorithm(t *testing.T) {
	for _, alg := range []string{"", "none", "HS384", "es256", "RS512"} {
		if out, err := Keygen(alg); err == nil {
			t.Errorf("Keygen(%q) = %.20q…, nil; want an error", alg, out)
		}
	}
}
