package tokens

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/golang-jwt/jwt/v5"
)

// verifyRow is one case of the Verify table: a token made from a valid one
// for a fixture, and whether Verify must reject it.
type verifyRow struct {
	name    string
	token   func(tb testing.TB, f *fixture) string
	wantErr bool
	// only limits the row to some algorithms; nil means all.
	only []string
}

func (r verifyRow) appliesTo(alg string) bool {
	if r.only == nil {
		return true
	}
	for _, a := range r.only {
		if a == alg {
			return true
		}
	}
	return false
}

var asymmetric = []string{AlgRS256, AlgES256, AlgEdDSA}

// claimsRow builds a row whose token has the valid header and claims
// changed by mod, signed with the configured key.
func claimsRow(name string, wantErr bool, mod func(c map[string]any)) verifyRow {
	return verifyRow{name: name, wantErr: wantErr, token: func(tb testing.TB, f *fixture) string {
		h, c := f.base()
		mod(c)
		return f.sign(tb, h, c)
	}}
}

// headerRow is claimsRow for the header.
func headerRow(name string, wantErr bool, mod func(f *fixture, h map[string]any)) verifyRow {
	return verifyRow{name: name, wantErr: wantErr, token: func(tb testing.TB, f *fixture) string {
		h, c := f.base()
		mod(f, h)
		return f.sign(tb, h, c)
	}}
}

// rawRow builds a row from the valid token.
func rawRow(name string, mod func(tok string) string) verifyRow {
	return verifyRow{name: name, wantErr: true, token: func(tb testing.TB, f *fixture) string {
		return mod(f.valid(tb))
	}}
}

func rel(f *fixture, d time.Duration) int64 { return f.now.Add(d).Unix() }

// verifyRows is the Verify table. Every fail- row is a way a token may be
// forged, damaged or misused; every ok- row a variation that must work.
func verifyRows() []verifyRow {
	rows := []verifyRow{
		{name: "ok-issued", token: func(tb testing.TB, f *fixture) string {
			tok, _, err := f.tokens.Issue("42", IssueInput{SessionID: "sess-1", Username: "alice", Email: "alice@example.com", Roles: []string{"dev", "admin"}})
			if err != nil {
				tb.Fatalf("Issue = %v", err)
			}
			return tok
		}},
		claimsRow("ok-valid", false, func(map[string]any) {}),
		{name: "ok-rotation-verify-key", token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			h["kid"] = f.rotKid
			return signWith(tb, f.method, f.rotKey, h, c)
		}},
		headerRow("ok-kid-missing-current-key", false, func(_ *fixture, h map[string]any) { delete(h, "kid") }),
		headerRow("ok-typ-uppercase", false, func(_ *fixture, h map[string]any) { h["typ"] = "AT+JWT" }),
		headerRow("ok-typ-media-type", false, func(_ *fixture, h map[string]any) { h["typ"] = "application/at+jwt" }),
		headerRow("ok-jwk-header-ignored", false, func(f *fixture, h map[string]any) { h["jwk"] = attackerJWK(f) }),
		claimsRow("ok-aud-string", false, func(c map[string]any) { c["aud"] = "authgate" }),
		claimsRow("ok-aud-among-others", false, func(c map[string]any) { c["aud"] = []string{"billing", "authgate"} }),
		claimsRow("ok-nbf-absent", false, func(c map[string]any) { delete(c, "nbf") }),
		{name: "ok-exp-within-clock-skew", token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			c["exp"] = rel(f, -2*time.Second)
			return f.sign(tb, h, c)
		}},
		{name: "ok-iat-within-clock-skew", token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			c["iat"], c["nbf"] = rel(f, 2*time.Second), rel(f, 2*time.Second)
			return f.sign(tb, h, c)
		}},

		// Algorithm.
		{name: "fail-alg-confusion-hs256-public-key-pem", wantErr: true, only: asymmetric, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			h["alg"] = AlgHS256
			return signWith(tb, jwt.SigningMethodHS256, pkixPEM(tb, f.signKey), h, c)
		}},
		{name: "fail-alg-confusion-hs256-public-key-der", wantErr: true, only: asymmetric, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			h["alg"] = AlgHS256
			der, _ := x509.MarshalPKIXPublicKey(publicKey(f.signKey))
			return signWith(tb, jwt.SigningMethodHS256, der, h, c)
		}},

		// Signature.
		rawRow("fail-signature-stripped", func(tok string) string { return tok[:strings.LastIndexByte(tok, '.')+1] }),
		rawRow("fail-signature-stripped-two-segments", func(tok string) string { return tok[:strings.LastIndexByte(tok, '.')] }),
		rawRow("fail-signature-one-bit", func(tok string) string {
			i := strings.LastIndexByte(tok, '.')
			sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
			sig[len(sig)/2] ^= 1
			return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
		}),
		rawRow("fail-signature-of-other-token", func(tok string) string {
			i := strings.LastIndexByte(tok, '.')
			return tok[:i+1] + strings.Repeat("A", len(tok)-i-1)
		}),
		{name: "fail-payload-altered", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			tok := f.valid(tb)
			parts := strings.Split(tok, ".")
			_, c := f.base()
			c["sub"] = "1" // become user 1, keep the signature
			return parts[0] + "." + seg(tb, c) + "." + parts[2]
		}},
		{name: "fail-signed-by-unknown-key-with-our-kid", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			return signWith(tb, f.method, f.otherKey, h, c)
		}},
		{name: "fail-signed-by-unknown-key-without-kid", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			delete(h, "kid")
			return signWith(tb, f.method, f.otherKey, h, c)
		}},

		// Header.
		headerRow("fail-typ-missing", true, func(_ *fixture, h map[string]any) { delete(h, "typ") }),
		headerRow("fail-typ-jwt", true, func(_ *fixture, h map[string]any) { h["typ"] = "JWT" }),
		headerRow("fail-typ-not-string", true, func(_ *fixture, h map[string]any) { h["typ"] = 1 }),
		headerRow("fail-typ-lookalike", true, func(_ *fixture, h map[string]any) { h["typ"] = "at+jwt " }),
		headerRow("fail-crit-present", true, func(_ *fixture, h map[string]any) { h["crit"] = []string{"exp"} }),
		headerRow("fail-crit-empty", true, func(_ *fixture, h map[string]any) { h["crit"] = []string{} }),
		headerRow("fail-b64-false-with-crit", true, func(_ *fixture, h map[string]any) { h["b64"], h["crit"] = false, []string{"b64"} }),
		headerRow("fail-kid-unknown", true, func(_ *fixture, h map[string]any) { h["kid"] = "nope" }),
		headerRow("fail-kid-not-string", true, func(_ *fixture, h map[string]any) { h["kid"] = 7 }),
		headerRow("fail-kid-of-verify-key-signed-by-current-key", true, func(f *fixture, h map[string]any) { h["kid"] = f.rotKid }),
		{name: "fail-kid-of-current-key-signed-by-verify-key", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			return signWith(tb, f.method, f.rotKey, h, c)
		}},
		{name: "fail-kid-missing-signed-by-verify-key", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			delete(h, "kid")
			return signWith(tb, f.method, f.rotKey, h, c)
		}},
		{name: "fail-jwk-embedded-attacker-key", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			delete(h, "kid")
			h["jwk"] = attackerJWK(f)
			return signWith(tb, f.method, f.otherKey, h, c)
		}},
		{name: "fail-jwk-embedded-attacker-key-with-its-kid", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			h["jwk"], h["kid"] = attackerJWK(f), kidOf(tb, f.otherKey)
			return signWith(tb, f.method, f.otherKey, h, c)
		}},
		{name: "fail-jku-x5u-attacker-urls", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			delete(h, "kid")
			h["jku"], h["x5u"] = "https://attacker.example/jwks.json", "https://attacker.example/cert.pem"
			return signWith(tb, f.method, f.otherKey, h, c)
		}},
		{name: "fail-x5c-attacker-chain", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			delete(h, "kid")
			h["x5c"] = []string{base64.StdEncoding.EncodeToString([]byte("attacker certificate"))}
			return signWith(tb, f.method, f.otherKey, h, c)
		}},
		headerRow("fail-alg-missing", true, func(_ *fixture, h map[string]any) { delete(h, "alg") }),

		// Claims.
		claimsRow("fail-iss-wrong", true, func(c map[string]any) { c["iss"] = "https://attacker.example" }),
		claimsRow("fail-iss-missing", true, func(c map[string]any) { delete(c, "iss") }),
		claimsRow("fail-iss-case", true, func(c map[string]any) { c["iss"] = "AuthGate" }),
		claimsRow("fail-aud-wrong", true, func(c map[string]any) { c["aud"] = []string{"billing"} }),
		claimsRow("fail-aud-missing", true, func(c map[string]any) { delete(c, "aud") }),
		claimsRow("fail-aud-empty", true, func(c map[string]any) { c["aud"] = []string{} }),
		claimsRow("fail-exp-missing", true, func(c map[string]any) { delete(c, "exp") }),
		claimsRow("fail-exp-not-number", true, func(c map[string]any) { c["exp"] = "tomorrow" }),
		claimsRow("fail-iat-missing", true, func(c map[string]any) { delete(c, "iat") }),
		claimsRow("fail-sub-missing", true, func(c map[string]any) { delete(c, "sub") }),
		claimsRow("fail-sub-empty", true, func(c map[string]any) { c["sub"] = "" }),
		claimsRow("fail-sid-missing", true, func(c map[string]any) { delete(c, "sid") }),
		claimsRow("fail-sid-not-string", true, func(c map[string]any) { c["sid"] = 7 }),
		claimsRow("fail-jti-missing", true, func(c map[string]any) { delete(c, "jti") }),
		claimsRow("fail-roles-not-list", true, func(c map[string]any) { c["roles"] = "admin" }),
		{name: "fail-expired", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			c["iat"], c["nbf"], c["exp"] = rel(f, -16*time.Minute), rel(f, -16*time.Minute), rel(f, -time.Minute)
			return f.sign(tb, h, c)
		}},
		{name: "fail-expired-beyond-clock-skew", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			c["exp"] = rel(f, -clockSkew-time.Second)
			return f.sign(tb, h, c)
		}},
		{name: "fail-nbf-future", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			c["nbf"] = rel(f, time.Minute)
			return f.sign(tb, h, c)
		}},
		{name: "fail-iat-future", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			c["iat"] = rel(f, time.Minute)
			return f.sign(tb, h, c)
		}},

		// Encoding and shape, checked before any parsing.
		{name: "fail-b64-padding", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			payload := encodeWithFiller(tb, c, base64.URLEncoding, func(s string) bool { return strings.HasSuffix(s, "=") })
			return signSegments(tb, f.method, f.signKey, seg(tb, h), payload)
		}},
		{name: "fail-b64-standard-alphabet", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			payload := encodeWithFiller(tb, c, base64.RawStdEncoding, func(s string) bool { return strings.ContainsAny(s, "+/") })
			return signSegments(tb, f.method, f.signKey, seg(tb, h), payload)
		}},
		{name: "fail-b64-nonzero-trailing-bits", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			payload := encodeWithFiller(tb, c, base64.RawURLEncoding, func(s string) bool { return len(s)%4 != 0 })
			return signSegments(tb, f.method, f.signKey, seg(tb, h), nonCanonical(tb, payload))
		}},
		rawRow("fail-four-segments", func(tok string) string { return tok + "." + tok[strings.LastIndexByte(tok, '.')+1:] }),
		rawRow("fail-trailing-dot", func(tok string) string { return tok + "." }),
		rawRow("fail-whitespace-leading", func(tok string) string { return " " + tok }),
		rawRow("fail-whitespace-trailing", func(tok string) string { return tok + "\n" }),
		rawRow("fail-whitespace-inside", func(tok string) string { return strings.Replace(tok, ".", ". ", 1) }),
		rawRow("fail-tab-leading", func(tok string) string { return "\t" + tok }),
		rawRow("fail-bearer-prefix", func(tok string) string { return "Bearer " + tok }),
		rawRow("fail-one-mebibyte", func(tok string) string {
			i := strings.IndexByte(tok, '.')
			return tok[:i+1] + strings.Repeat("A", 1<<20) + tok[strings.LastIndexByte(tok, '.'):]
		}),
		claimsRow("fail-over-8kib-correctly-signed", true, func(c map[string]any) { c["pad"] = strings.Repeat("x", maxTokenBytes) }),
		rawRow("fail-empty", func(string) string { return "" }),
		rawRow("fail-header-not-json", func(tok string) string { return "bm90IGpzb24" + tok[strings.IndexByte(tok, '.'):] }),
		{name: "fail-refresh-token", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			var raw [32]byte
			rand.Read(raw[:])
			return "agr_" + base64.RawURLEncoding.EncodeToString(raw[:])
		}},
		{name: "fail-assertion", wantErr: true, token: func(tb testing.TB, f *fixture) string {
			id := identity.New(identity.Identity{UserID: "42", Username: "alice", SessionID: "sess-1", TokenID: "tok-1"})
			tok, err := f.tokens.SignAssertion(id, "billing", time.Minute)
			if err != nil {
				tb.Fatalf("SignAssertion = %v", err)
			}
			return tok
		}},
	}

	// alg "none" in every spelling, unsigned and with a real signature.
	for _, none := range []string{"none", "None", "NONE", "nOnE"} {
		rows = append(rows,
			verifyRow{name: "fail-alg-" + none + "-unsigned", wantErr: true, token: func(tb testing.TB, f *fixture) string {
				h, c := f.base()
				h["alg"] = none
				return seg(tb, h) + "." + seg(tb, c) + "."
			}},
			verifyRow{name: "fail-alg-" + none + "-signed", wantErr: true, token: func(tb testing.TB, f *fixture) string {
				h, c := f.base()
				h["alg"] = none
				return f.sign(tb, h, c)
			}},
		)
	}

	// Every other algorithm, with the configured key where its type fits
	// (RS384 with our RSA key), else an attacker's key.
	for _, m := range []jwt.SigningMethod{
		jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512,
		jwt.SigningMethodRS256, jwt.SigningMethodRS384, jwt.SigningMethodPS256,
		jwt.SigningMethodES256, jwt.SigningMethodES384, jwt.SigningMethodEdDSA,
	} {
		rows = append(rows, verifyRow{name: "fail-alg-" + m.Alg(), wantErr: true, only: others(m.Alg()), token: func(tb testing.TB, f *fixture) string {
			h, c := f.base()
			h["alg"] = m.Alg()
			return signWith(tb, m, keyForMethod(tb, f, m.Alg()), h, c)
		}})
	}
	return rows
}

func others(alg string) []string {
	var out []string
	for _, a := range testAlgs {
		if a != alg {
			out = append(out, a)
		}
	}
	return out
}

// keyForMethod picks a key that signs alg: the fixture's own key if it
// has the right type, else one from testdata.
func keyForMethod(tb testing.TB, f *fixture, alg string) any {
	family := map[string]string{
		"HS256": AlgHS256, "HS384": AlgHS256, "HS512": AlgHS256,
		"RS256": AlgRS256, "RS384": AlgRS256, "PS256": AlgRS256,
		"ES256": AlgES256, "EdDSA": AlgEdDSA,
	}
	if alg == "ES384" {
		return readTestKey(tb, filepath.Join("testdata", "tokens", "ec384.pem"))
	}
	if family[alg] == f.alg {
		return f.signKey
	}
	_, _, c := keyFiles(family[alg])
	return readTestKey(tb, c)
}

// attackerJWK is the public JWK of the fixture's attacker key (for HS256,
// the attacker's secret as an "oct" key).
func attackerJWK(f *fixture) map[string]any {
	if s, ok := f.otherKey.([]byte); ok {
		return map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(s)}
	}
	j, _ := publicJWK(publicKey(f.otherKey))
	var m map[string]any
	b, _ := json.Marshal(j)
	json.Unmarshal(b, &m)
	return m
}

// encodeWithFiller encodes claims with enc, adding a filler claim until
// the encoding has the property want.
func encodeWithFiller(tb testing.TB, claims map[string]any, enc *base64.Encoding, want func(string) bool) string {
	tb.Helper()
	for i := range 64 {
		claims["filler"] = strings.Repeat("\u00ff?>", i)
		b, _ := json.Marshal(claims)
		if s := enc.EncodeToString(b); want(s) {
			return s
		}
	}
	tb.Fatal("no filler gives the wanted encoding")
	return ""
}

// nonCanonical flips an unused trailing bit of a base64url segment: a
// lenient decoder reads the same bytes, a strict one (RFC 4648 §3.5)
// refuses it.
func nonCanonical(tb testing.TB, s string) string {
	tb.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	out := s[:len(s)-1] + string(alphabet[last^1])
	a, err1 := base64.RawURLEncoding.DecodeString(s)
	b, err2 := base64.RawURLEncoding.DecodeString(out)
	if err1 != nil || err2 != nil || string(a) != string(b) {
		tb.Fatalf("nonCanonical(%q) = %q does not decode to the same bytes", s, out)
	}
	return out
}

func TestVerifyTable(t *testing.T) {
	for _, alg := range testAlgs {
		f := newFixture(t, alg)
		for _, row := range verifyRows() {
			if !row.appliesTo(alg) {
				continue
			}
			t.Run(alg+"/"+row.name, func(t *testing.T) {
				tok := row.token(t, f)
				id, err := f.tokens.Verify(tok)
				if row.wantErr {
					if !errors.Is(err, problem.ErrInvalidToken) || id != nil {
						t.Fatalf("Verify(%.80q) = %v, %v; want nil, problem.ErrInvalidToken", tok, id, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Verify(%.80q) = %v; want nil", tok, err)
				}
				if id.UserID != "42" || id.SessionID != "sess-1" || id.Username != "alice" {
					t.Fatalf("Verify(%.80q) = %+v; want user 42, session sess-1, alice", tok, id)
				}
				// A second call is answered from the cache with the same
				// identity, unless the token is already past its exp (and
				// only accepted within the clock skew).
				again, err := f.tokens.Verify(tok)
				if err != nil {
					t.Fatalf("second Verify(%.80q) = %v; want nil", tok, err)
				}
				if cached := f.now.Before(id.ExpiresAt); (again == id) != cached {
					t.Fatalf("second Verify returned the first identity: %v; want %v", again == id, cached)
				}
			})
		}
	}
}
