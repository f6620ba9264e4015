package tokens

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conf"
)

func writeTestFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func testdataKey(name string) string { return filepath.Join("testdata", "tokens", name) }

// problemPaths lists the key paths of the conf.Problems in err, sorted.
func problemPaths(t *testing.T, err error) []string {
	t.Helper()
	var paths []string
	for _, e := range conf.Unjoin(err) {
		var p *conf.Problem
		if !errors.As(e, &p) {
			t.Fatalf("error %q is not a *conf.Problem", e)
		}
		paths = append(paths, p.Path)
	}
	slices.Sort(paths)
	return paths
}

func TestNewTokensConfig(t *testing.T) {
	pubPEM := func(t *testing.T, file string) string {
		return writeTestFile(t, "pub.pem", pkixPEM(t, readTestKey(t, file)))
	}
	tests := []struct {
		name string
		alg  string
		mod  func(t *testing.T, c *Config)
		want []string // problem paths; nil = ok
	}{
		{name: "ok-hs256", alg: AlgHS256},
		{name: "ok-rs256-pkcs1", alg: AlgRS256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("rsa2048-a.pem") }},
		{name: "ok-rs256-pkcs8", alg: AlgRS256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("rsa2048-b.pem") }},
		{name: "ok-es256-sec1-after-ec-parameters", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("ec256-a.pem") }},
		{name: "ok-es256-pkcs8", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("ec256-b.pem") }},
		{name: "ok-eddsa-pkcs8", alg: AlgEdDSA},
		{name: "ok-verify-key-pkix-public", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.VerifyKeys = []string{pubPEM(t, testdataKey("ec256-b.pem"))} }},
		{name: "ok-verify-key-pkcs1-public", alg: AlgRS256, mod: func(t *testing.T, c *Config) {
			der := x509.MarshalPKCS1PublicKey(&readTestKey(t, testdataKey("rsa2048-b.pem")).(*rsa.PrivateKey).PublicKey)
			c.VerifyKeys = []string{writeTestFile(t, "pub.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: der}))}
		}},
		{name: "ok-verify-key-certificate", alg: AlgES256, mod: func(t *testing.T, c *Config) {
			key := readTestKey(t, testdataKey("ec256-b.pem")).(*ecdsa.PrivateKey)
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "old signer"}, NotAfter: time.Now().Add(time.Hour)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
			if err != nil {
				t.Fatal(err)
			}
			c.VerifyKeys = []string{writeTestFile(t, "cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
		}},
		{name: "ok-verify-key-is-the-signing-key", alg: AlgEdDSA, mod: func(t *testing.T, c *Config) { c.VerifyKeys = []string{c.PrivateKeyFile} }},
		{name: "ok-no-verify-keys", alg: AlgRS256, mod: func(t *testing.T, c *Config) { c.VerifyKeys = nil }},

		{name: "fail-algorithm-unknown", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Algorithm = "HS384" }, want: []string{"tokens.algorithm"}},
		{name: "fail-algorithm-none", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Algorithm = "none" }, want: []string{"tokens.algorithm"}},
		{name: "fail-algorithm-lowercase", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.Algorithm = "es256" }, want: []string{"tokens.algorithm"}},
		{name: "fail-algorithm-empty", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Algorithm = "" }, want: []string{"tokens.algorithm"}},
		{name: "fail-issuer-empty", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Issuer = "" }, want: []string{"tokens.issuer"}},
		{name: "fail-audience-empty", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Audience = "" }, want: []string{"tokens.audience"}},
		{name: "fail-access-ttl-zero", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.AccessTTL = 0 }, want: []string{"tokens.access_ttl"}},
		{name: "fail-access-ttl-over-a-day", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.AccessTTL = conf.Duration(25 * time.Hour) }, want: []string{"tokens.access_ttl"}},
		{name: "fail-secret-31-bytes", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Secret = c.Secret[:31] }, want: []string{"tokens.secret"}},
		{name: "fail-secret-repetitive", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Secret = strings.Repeat("abc", 20) }, want: []string{"tokens.secret"}},
		{name: "fail-hs256-with-private-key-file", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("ec256-a.pem") }, want: []string{"tokens.private_key_file"}},
		{name: "fail-hs256-no-secret-nowhere-to-keep-one", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Secret = "" }, want: []string{"tokens.secret"}},
		{name: "fail-es256-without-key-file", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = "" }, want: []string{"tokens.private_key_file"}},
		{name: "fail-es256-with-secret", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.Secret = string(readTestSecret(t, testdataKey("hs256-a.secret"))) }, want: []string{"tokens.secret"}},
		{name: "fail-rs256-1024-bit", alg: AlgRS256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("rsa1024.pem") }, want: []string{"tokens.private_key_file"}},
		{name: "fail-es256-p384", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("ec384.pem") }, want: []string{"tokens.private_key_file"}},
		{name: "fail-es256-ed25519-key", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("ed25519-a.pem") }, want: []string{"tokens.private_key_file"}},
		{name: "fail-eddsa-rsa-key", alg: AlgEdDSA, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("rsa2048-a.pem") }, want: []string{"tokens.private_key_file"}},
		{name: "fail-rs256-ec-key", alg: AlgRS256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("ec256-a.pem") }, want: []string{"tokens.private_key_file"}},
		{name: "fail-private-key-file-holds-public-key", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = pubPEM(t, c.PrivateKeyFile) }, want: []string{"tokens.private_key_file"}},
		{name: "fail-private-key-file-encrypted", alg: AlgES256, mod: func(t *testing.T, c *Config) {
			c.PrivateKeyFile = writeTestFile(t, "enc.pem", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}))
		}, want: []string{"tokens.private_key_file"}},
		{name: "fail-private-key-file-legacy-encrypted", alg: AlgRS256, mod: func(t *testing.T, c *Config) {
			c.PrivateKeyFile = writeTestFile(t, "enc.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{0x30, 0}}))
		}, want: []string{"tokens.private_key_file"}},
		{name: "fail-private-key-file-not-pem", alg: AlgEdDSA, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = writeTestFile(t, "k", []byte("not a key")) }, want: []string{"tokens.private_key_file"}},
		{name: "fail-private-key-file-missing", alg: AlgEdDSA, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = filepath.Join(t.TempDir(), "missing.pem") }, want: []string{"tokens.private_key_file"}},
		{name: "fail-verify-key-http-url", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.VerifyKeys = []string{"http://127.0.0.1:1/jwks.json"} }, want: []string{"tokens.verify_keys[0]"}},
		{name: "fail-verify-key-url-for-hs256", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.VerifyKeys = []string{"https://127.0.0.1:1/jwks.json"} }, want: []string{"tokens.verify_keys[0]"}},
		{name: "fail-verify-key-wrong-type", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.VerifyKeys = []string{testdataKey("rsa2048-b.pem")} }, want: []string{"tokens.verify_keys[0]"}},
		{name: "fail-verify-key-rsa-1024", alg: AlgRS256, mod: func(t *testing.T, c *Config) { c.VerifyKeys = []string{testdataKey("rsa1024.pem")} }, want: []string{"tokens.verify_keys[0]"}},
		{name: "fail-verify-key-secret-too-short", alg: AlgHS256, mod: func(t *testing.T, c *Config) {
			c.VerifyKeys = []string{writeTestFile(t, "old.secret", []byte("short\n"))}
		}, want: []string{"tokens.verify_keys[0]"}},
		{name: "fail-verify-key-secret-weak", alg: AlgHS256, mod: func(t *testing.T, c *Config) {
			c.VerifyKeys = []string{writeTestFile(t, "old.secret", []byte("your-256-bit-secret\n"))}
		}, want: []string{"tokens.verify_keys[0]"}},
		{name: "fail-verify-key-pem-as-hs256-secret", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.VerifyKeys = []string{testdataKey("rsa2048-b.pem")} }, want: []string{"tokens.verify_keys[0]"}},
		{name: "fail-secret-is-pem", alg: AlgHS256, mod: func(t *testing.T, c *Config) {
			c.Secret = string(pkixPEM(t, readTestKey(t, testdataKey("ec256-a.pem"))))
		}, want: []string{"tokens.secret"}},
		{name: "fail-verify-key-missing-file", alg: AlgES256, mod: func(t *testing.T, c *Config) {
			c.VerifyKeys = append(c.VerifyKeys, filepath.Join(t.TempDir(), "missing.pem"))
		}, want: []string{"tokens.verify_keys[1]"}},
		{name: "fail-every-problem-at-once", alg: AlgHS256, mod: func(t *testing.T, c *Config) {
			c.Issuer, c.AccessTTL, c.Secret, c.VerifyKeys = "", 0, "changeme", []string{"ftp://example.com/keys"}
		}, want: []string{"tokens.access_ttl", "tokens.issuer", "tokens.secret", "tokens.verify_keys[0]"}},
	}
	// Every well-known secret is refused, in any case.
	for _, weak := range weakSecrets {
		for _, s := range []string{weak, strings.ToUpper(weak)} {
			tests = append(tests, struct {
				name string
				alg  string
				mod  func(t *testing.T, c *Config)
				want []string
			}{name: "fail-secret-well-known-" + s, alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Secret = s }, want: []string{"tokens.secret"}})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, tt.alg)
			if tt.mod != nil {
				tt.mod(t, &cfg)
			}
			tok, err := New(cfg, Options{})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("New(%+v) = %v; want nil", cfg, err)
				}
				issued, _, err := tok.Issue("42", IssueInput{SessionID: "s"})
				if err != nil {
					t.Fatalf("Issue = %v", err)
				}
				if _, err := tok.Verify(issued); err != nil {
					t.Fatalf("Verify(Issue()) = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%+v) = nil; want problems at %v", cfg, tt.want)
			}
			if got := problemPaths(t, err); !slices.Equal(got, tt.want) {
				t.Fatalf("New problems at %v; want %v (%v)", got, tt.want, err)
			}
			if len(cfg.Secret) >= 16 && strings.Contains(err.Error(), cfg.Secret) {
				t.Fatalf("New error %q repeats the secret", err)
			}
		})
	}
}

func TestCheckSecretWellKnown(t *testing.T) {
	for _, s := range []string{
		"secret", "your-256-bit-secret", "changeme",
		"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
		" 09D25E094FAA6CA2556C818166B7A9563B93F7099F6F0F4CAA6CF63B88E8D3E7\n",
	} {
		if err := checkSecret([]byte(s)); !errors.Is(err, errWeakSecret) {
			t.Errorf("checkSecret(%q) = %v; want errWeakSecret", s, err)
		}
	}
	if err := checkSecret(readTestSecret(t, testdataKey("hs256-a.secret"))); err != nil {
		t.Errorf("checkSecret(random) = %v; want nil", err)
	}
}

// The HS256 kid names the secret without revealing it or a plain hash of it.
func TestSecretKid(t *testing.T) {
	secret := readTestSecret(t, testdataKey("hs256-a.secret"))
	kid := secretKid(secret)
	if kid != secretKid(secret) || kid == secretKid(readTestSecret(t, testdataKey("hs256-b.secret"))) {
		t.Fatalf("secretKid is not a stable, distinct name: %q", kid)
	}
	if strings.Contains(string(secret), kid) || strings.Contains(kid, string(secret[:8])) {
		t.Fatalf("secretKid(%q) = %q overlaps the secret", secret, kid)
	}
	sum := sha256.Sum256(secret)
	if plain := base64.RawURLEncoding.EncodeToString(sum[:]); strings.HasPrefix(plain, kid) {
		t.Fatalf("secretKid = %q is a prefix of the unlabelled SHA-256 %q", kid, plain)
	}
	if len(kid) != 22 {
		t.Fatalf("len(secretKid) = %d; want 22 (128 bits)", len(kid))
	}
}

// The RFC 7638 §3.1 and RFC 8037 §A.3 examples.
func TestThumbprintRFCExamples(t *testing.T) {
	tests := []struct {
		name string
		alg  string
		key  jwk
		want string
	}{
		{name: "ok-rfc7638-rsa", alg: AlgRS256, key: jwk{Kty: "RSA", Kid: "2011-04-29", E: "AQAB",
			N: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
			want: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{name: "ok-rfc8037-ed25519", alg: AlgEdDSA, key: jwk{Kty: "OKP", Kid: "x", Crv: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
			want: "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := parseJWK(tt.alg, tt.key)
			if err != nil {
				t.Fatalf("parseJWK = %v", err)
			}
			if got, err := thumbprint(pub); err != nil || got != tt.want {
				t.Fatalf("thumbprint = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestDerivedKey: a key derived from the signing key is 32 bytes, the same
// for the same label (so that instances sharing the signing key agree:
// authn.TestCSRFKey), another for another label, and holds no secret.
func TestDerivedKey(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			k1, err := f.tokens.DerivedKey("authgate csrf v1")
			if err != nil || len(k1) != 32 {
				t.Fatalf("DerivedKey = %x, %v; want 32 bytes", k1, err)
			}
			k2, _ := f.tokens.DerivedKey("authgate csrf v1")
			other, _ := f.tokens.DerivedKey("another use")
			if !bytes.Equal(k1, k2) || bytes.Equal(k1, other) {
				t.Errorf("DerivedKey is not deterministic per label, or ignores the label")
			}
			if secret, ok := f.signKey.([]byte); ok && bytes.Contains(k1, secret) {
				t.Errorf("the derived key contains the secret")
			}
		})
	}

}

// TestCheckKeyFiles: what New refuses in a key file, the loader's check
// refuses too, at the same key path; what needs the network or the disk
// (a JWKS URL, a secret to generate) is left to New.
func TestCheckKeyFiles(t *testing.T) {
	tests := []struct {
		name string
		alg  string
		mod  func(t *testing.T, c *Config)
		want []string // problem paths, sorted; nil = none
	}{
		{name: "ok-es256", alg: AlgES256},
		{name: "ok-hs256-secret-to-generate", alg: AlgHS256, mod: func(t *testing.T, c *Config) { c.Secret = "" }},
		{name: "ok-jwks-url-not-fetched", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.VerifyKeys = []string{"https://127.0.0.1:1/jwks.json"} }},
		{name: "fail-not-pem", alg: AlgEdDSA, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = writeTestFile(t, "k", []byte("not a key")) }, want: []string{"tokens.private_key_file"}},
		{name: "fail-wrong-key-type", alg: AlgRS256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("ec256-a.pem") }, want: []string{"tokens.private_key_file"}},
		{name: "fail-rsa-1024", alg: AlgRS256, mod: func(t *testing.T, c *Config) { c.PrivateKeyFile = testdataKey("rsa1024.pem") }, want: []string{"tokens.private_key_file"}},
		{name: "fail-verify-key-wrong-type", alg: AlgES256, mod: func(t *testing.T, c *Config) { c.VerifyKeys = []string{testdataKey("rsa2048-b.pem")} }, want: []string{"tokens.verify_keys[0]"}},
		{name: "fail-verify-secret-short", alg: AlgHS256, mod: func(t *testing.T, c *Config) {
			c.VerifyKeys = []string{writeTestFile(t, "old.secret", []byte("short\n"))}
		}, want: []string{"tokens.verify_keys[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, tt.alg)
			if tt.mod != nil {
				tt.mod(t, &cfg)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate() = %v; the rows are valid configs", err)
			}
			err := cfg.CheckKeyFiles()
			if got := problemPaths(t, err); !slices.Equal(got, tt.want) {
				t.Fatalf("CheckKeyFiles() problems at %v; want %v (%v)", got, tt.want, err)
			}
			if tt.want == nil {
				return
			}
			if _, nerr := New(cfg, Options{}); !slices.Equal(problemPaths(t, nerr), tt.want) {
				t.Errorf("New() = %v; want the problems CheckKeyFiles reports, at %v", nerr, tt.want)
			}
		})
	}
}
