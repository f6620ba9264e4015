package tokens

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conf"
	"github.com/golang-jwt/jwt/v5"
)

// testNow is the fixed clock of token tests: committed fuzz seeds carry
// timestamps relative to it and stay valid forever.
var testNow = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

const testTTL = 15 * time.Minute

var testAlgs = []string{AlgHS256, AlgRS256, AlgES256, AlgEdDSA}

// fixture is an AccessTokens for one algorithm, built from the committed
// keys in testdata/tokens, with the private halves needed to forge tokens.
type fixture struct {
	alg      string
	tokens   *AccessTokens
	now      time.Time // what tokens.now returns
	method   jwt.SigningMethod
	signKey  any // the configured signing key
	kid      string
	rotKey   any // the verify_keys key (rotation)
	rotKid   string
	otherKey any // same algorithm, configured nowhere: an attacker's key
}

// keyFiles names the committed "a" (signs), "b" (verify_keys) and "c"
// (configured nowhere) keys of an algorithm.
func keyFiles(alg string) (a, b, c string) {
	name := map[string]string{AlgHS256: "hs256-%s.secret", AlgRS256: "rsa2048-%s.pem", AlgES256: "ec256-%s.pem", AlgEdDSA: "ed25519-%s.pem"}[alg]
	f := func(x string) string { return filepath.Join("testdata", "tokens", strings.Replace(name, "%s", x, 1)) }
	return f("a"), f("b"), f("c")
}

// testConfig is a tokens section with the defaults applied, signing with
// the "a" key of alg and accepting the "b" key. (New runs the loader's
// Validate, so the section is whole: refresh_ttl included.)
func testConfig(tb testing.TB, alg string) Config {
	tb.Helper()
	a, b, _ := keyFiles(alg)
	cfg := Config{
		Issuer:     "authgate",
		Audience:   "authgate",
		Algorithm:  alg,
		VerifyKeys: []string{b},
		AccessTTL:  conf.Duration(testTTL),
		RefreshTTL: conf.Duration(defaultRefreshTTL),
	}
	if alg == AlgHS256 {
		cfg.Secret = string(readTestSecret(tb, a))
	} else {
		cfg.PrivateKeyFile = a
	}
	return cfg
}

func readTestSecret(tb testing.TB, file string) []byte {
	tb.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(strings.TrimSpace(string(data)))
}

// readTestKey returns the private key in a PEM file, or the secret in a
// .secret file.
func readTestKey(tb testing.TB, file string) any {
	tb.Helper()
	if strings.HasSuffix(file, ".secret") {
		return readTestSecret(tb, file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := parsePEMKey(data)
	if err != nil {
		tb.Fatalf("parsePEMKey(%s) = %v", file, err)
	}
	return key
}

// kidOf is the kid authgate gives a key (private, public or secret).
func kidOf(tb testing.TB, key any) string {
	tb.Helper()
	if s, ok := key.([]byte); ok {
		return secretKid(s)
	}
	kid, err := thumbprint(publicKey(key))
	if err != nil {
		tb.Fatal(err)
	}
	return kid
}

func newFixture(tb testing.TB, alg string, setup ...func(*AccessTokens)) *fixture {
	tb.Helper()
	a, b, c := keyFiles(alg)
	f := &fixture{alg: alg, now: testNow, method: signingMethod(alg)}
	f.signKey, f.rotKey, f.otherKey = readTestKey(tb, a), readTestKey(tb, b), readTestKey(tb, c)
	f.kid, f.rotKid = kidOf(tb, f.signKey), kidOf(tb, f.rotKey)
	tokens, err := newTokens(testConfig(tb, alg), Options{}, func(t *AccessTokens) {
		t.now = func() time.Time { return f.now }
		t.cacheSize = 1024
		for _, s := range setup {
			s(t)
		}
	})
	if err != nil {
		tb.Fatalf("newTokens(%s) = %v", alg, err)
	}
	f.tokens = tokens
	return f
}

// header and claims of a valid access token at f.now.
func (f *fixture) base() (header, claims map[string]any) {
	now := f.now.Unix()
	header = map[string]any{"alg": f.alg, "typ": "at+jwt", "kid": f.kid}
	claims = map[string]any{
		"iss":      "authgate",
		"aud":      []string{"authgate"},
		"sub":      "42",
		"sid":      "sess-1",
		"jti":      "tok-1",
		"iat":      now,
		"nbf":      now,
		"exp":      now + int64(testTTL/time.Second),
		"username": "alice",
		"email":    "alice@example.com",
		"roles":    []string{"dev", "admin"},
	}
	return header, claims
}

// sign signs header and claims with the configured key; header["alg"] is
// written as given, whatever the method.
func (f *fixture) sign(tb testing.TB, header, claims map[string]any) string {
	tb.Helper()
	return signWith(tb, f.method, f.signKey, header, claims)
}

func signWith(tb testing.TB, method jwt.SigningMethod, key any, header, claims map[string]any) string {
	tb.Helper()
	return signSegments(tb, method, key, seg(tb, header), seg(tb, claims))
}

// signSegments signs two already encoded segments verbatim, so a test can
// sign text that our encoder would never produce.
func signSegments(tb testing.TB, method jwt.SigningMethod, key any, header, payload string) string {
	tb.Helper()
	sig, err := method.Sign(header+"."+payload, key)
	if err != nil {
		tb.Fatalf("%s.Sign = %v", method.Alg(), err)
	}
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func seg(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *fixture) valid(tb testing.TB) string {
	tb.Helper()
	h, c := f.base()
	return f.sign(tb, h, c)
}

// pkixPEM is the public half of key as a "PUBLIC KEY" PEM block.
func pkixPEM(tb testing.TB, key any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(key.(crypto.Signer).Public())
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
