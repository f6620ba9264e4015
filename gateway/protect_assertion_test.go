package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/tokens"
)

// TestProtectAssertion: with identity_headers.assertion, the upstream of a
// protected route receives a JWT about the user that it can verify with
// nothing but the gateway's published keys (ES256, /auth/jwks.json): for
// its own route only (aud), for at most a minute. A public route gets no
// assertion, and a client's copy of the header never passes. The assertion
// is not an access token.
func TestProtectAssertion(t *testing.T) {
	b := pStartBackend(t)
	keyPEM, err := tokens.Keygen("ES256")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing.pem")
	writeFile(t, keyFile, []byte(keyPEM))
	routes := fmt.Sprintf(`  - name: public
    path: /public
    auth: public
    upstream: %[1]s
  - name: billing
    path: /billing
    auth: required
    upstream: %[1]s
`, b.URL())
	gw := newTestGateway(t)
	gw.tokens = fmt.Sprintf("  algorithm: ES256\n  private_key_file: %s\n", keyFile)
	cfgFile := gw.write("identity_headers:\n  assertion: X-Auth-Jwt\nroutes:\n" + routes)
	g := pStartGateway(t, gw, cfgFile)
	alice := g.register(t, "alice")
	tok := g.login(t, alice).AccessToken

	before := b.count()
	resp := g.do(t, http.MethodGet, "/billing/invoices", nil,
		[2]string{"Authorization", "Bearer " + tok}, [2]string{"X-Auth-Jwt", "forged"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /billing/invoices = %d %s; want 200", resp.StatusCode, resp.body)
	}
	got := b.last(t, before).Header.Values("X-Auth-Jwt")
	if len(got) != 1 || got[0] == "forged" {
		t.Fatalf("backend got X-Auth-Jwt %q; want one assertion made by the gateway", got)
	}
	assertion := got[0]

	keys := pFetchJWKS(t, g, "/auth/jwks.json")
	if wk := pFetchJWKS(t, g, "/.well-known/jwks.json"); len(wk) != len(keys) {
		t.Errorf("/.well-known/jwks.json has %d keys; /auth/jwks.json %d", len(wk), len(keys))
	}
	block, _ := pem.Decode([]byte(keyPEM))
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys[0].key.Equal(priv.(*ecdsa.PrivateKey).Public()) {
		t.Fatalf("JWKS = %d keys; want exactly the configured key's public half", len(keys))
	}

	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(assertion, claims, func(tk *jwt.Token) (any, error) {
		if tk.Header["kid"] != keys[0].kid {
			return nil, fmt.Errorf("kid %v is not in the JWKS", tk.Header["kid"])
		}
		return keys[0].key, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("billing"), jwt.WithIssuer("authgate"),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("verifying the assertion with the JWKS key: %v", err)
	}
	if typ := parsed.Header["typ"]; typ != "JWT" {
		t.Errorf("assertion typ = %v; want JWT (never at+jwt)", typ)
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if life := exp.Sub(iat.Time); life <= 0 || life > 60*time.Second {
		t.Errorf("assertion lifetime exp-iat = %v; want (0, 60s]", life)
	}
	for k, want := range map[string]any{"sub": alice.ID, "username": "alice", "email": alice.Email} {
		if claims[k] != want {
			t.Errorf("assertion claim %s = %v; want %v", k, claims[k], want)
		}
	}

	// Another route's audience, and the access-token verifier, refuse it.
	if _, err := jwt.Parse(assertion, func(*jwt.Token) (any, error) { return keys[0].key, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("public")); err == nil {
		t.Error("the assertion verifies with audience public; want it bound to its route")
	}
	resp = g.do(t, http.MethodGet, "/billing/invoices", nil, [2]string{"Authorization", "Bearer " + assertion})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET with the assertion as a bearer token = %d; want 401", resp.StatusCode)
	}

	before = b.count()
	resp = g.do(t, http.MethodGet, "/public/x", nil,
		[2]string{"Authorization", "Bearer " + tok}, [2]string{"X-Auth-Jwt", "forged"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /public/x = %d; want 200", resp.StatusCode)
	}
	if got := b.last(t, before).Header.Values("X-Auth-Jwt"); len(got) != 0 {
		t.Errorf("public route: backend got X-Auth-Jwt %q; want none", got)
	}
}

// pJWK is one verification key of the gateway's JWKS.
type pJWK struct {
	kid string
	key *ecdsa.PublicKey
}

// pFetchJWKS reads the gateway's JWKS at path; every key must be a P-256
// signing key.
func pFetchJWKS(t *testing.T, g *pGateway, path string) []pJWK {
	t.Helper()
	resp := g.do(t, http.MethodGet, path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d; want 200", path, resp.StatusCode)
	}
	var set struct {
		Keys []struct {
			Kty, Crv, Alg, Use, Kid, X, Y, D string
		} `json:"keys"`
	}
	if err := json.Unmarshal(resp.body, &set); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	var out []pJWK
	for _, k := range set.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" || k.D != "" || k.Kid == "" {
			t.Fatalf("JWK %+v; want a public P-256 ES256 key with a kid", k)
		}
		x, err1 := base64.RawURLEncoding.DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			t.Fatalf("JWK %s: bad coordinates", k.Kid)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatalf("JWK %s: %v", k.Kid, err)
		}
		out = append(out, pJWK{kid: k.Kid, key: pub})
	}
	return out
}
