package tokens

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/golang-jwt/jwt/v5"
)

// decodeParts reads a token's header and payload without verifying it.
func decodeParts(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments; want 3", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.Strict().DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	return header, claims
}

func TestIssueVerifyIdentity(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			f.now = testNow.Add(1500 * time.Millisecond) // not on a second
			tok, exp, err := f.tokens.Issue("42", IssueInput{
				SessionID: "sess-1", Username: "alice", Email: "alice@example.com",
				Roles: []string{"dev", "admin", "dev"},
			})
			if err != nil {
				t.Fatalf("Issue = %v", err)
			}
			// iat keeps milliseconds (per-user cut-offs compare them); nbf
			// and exp are whole seconds.
			issuedAt := testNow.Add(1500 * time.Millisecond)
			notBefore := testNow.Add(time.Second)
			if want := notBefore.Add(testTTL); !exp.Equal(want) {
				t.Fatalf("Issue expires = %v; want %v", exp, want)
			}

			h, c := decodeParts(t, tok)
			wantHeader := map[string]any{"alg": alg, "typ": "at+jwt", "kid": f.kid}
			if len(h) != len(wantHeader) {
				t.Fatalf("header = %v; want %v", h, wantHeader)
			}
			for k, v := range wantHeader {
				if h[k] != v {
					t.Fatalf("header[%s] = %v; want %v", k, h[k], v)
				}
			}
			for _, claim := range []string{"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "username", "email", "roles"} {
				if _, ok := c[claim]; !ok {
					t.Fatalf("claims = %v; missing %s", c, claim)
				}
			}
			if c["iat"] != float64(issuedAt.UnixMilli())/1000 || c["nbf"] != float64(notBefore.Unix()) || c["exp"] != float64(exp.Unix()) {
				t.Fatalf("iat, nbf, exp = %v, %v, %v; want %.3f, %d, %d", c["iat"], c["nbf"], c["exp"],
					float64(issuedAt.UnixMilli())/1000, notBefore.Unix(), exp.Unix())
			}

			id, err := f.tokens.Verify(tok)
			if err != nil {
				t.Fatalf("Verify(Issue()) = %v", err)
			}
			want := identity.Identity{
				UserID: "42", Username: "alice", Email: "alice@example.com", Roles: []string{"admin", "dev"},
				SessionID: "sess-1", TokenID: c["jti"].(string), IssuedAt: issuedAt, ExpiresAt: exp,
			}
			if id.UserID != want.UserID || id.Username != want.Username || id.Email != want.Email ||
				!slices.Equal(id.Roles, want.Roles) || id.SessionID != want.SessionID || id.TokenID != want.TokenID ||
				!id.IssuedAt.Equal(want.IssuedAt) || !id.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("Verify = %+v; want %+v", *id, want)
			}
			if id.RolesHeader() != "admin,dev" {
				t.Fatalf("RolesHeader() = %q; want %q", id.RolesHeader(), "admin,dev")
			}
			if len(id.TokenID) < 22 {
				t.Fatalf("jti = %q; want at least 128 random bits", id.TokenID)
			}

			other, _, _ := f.tokens.Issue("42", IssueInput{SessionID: "sess-1"})
			if _, c2 := decodeParts(t, other); c2["jti"] == c["jti"] {
				t.Fatalf("two tokens share jti %v", c["jti"])
			}
			if _, c2 := decodeParts(t, other); c2["roles"] == nil {
				t.Fatalf("roles of a token without roles = null; want []")
			}
		})
	}
}

func TestIssueRefusesIncompleteInput(t *testing.T) {
	f := newFixture(t, AlgHS256)
	tests := []struct {
		name string
		sub  string
		in   IssueInput
	}{
		{name: "fail-no-subject", sub: "", in: IssueInput{SessionID: "s"}},
		{name: "fail-no-session", sub: "42", in: IssueInput{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, _, err := f.tokens.Issue(tt.sub, tt.in); err == nil {
				t.Fatalf("Issue(%q, %+v) = %q, nil; want an error", tt.sub, tt.in, tok)
			}
		})
	}
}

func TestSignAssertion(t *testing.T) {
	id := identity.New(identity.Identity{UserID: "42", Username: "alice", Email: "a@example.com", Roles: []string{"dev"}, SessionID: "sess-1", TokenID: "tok-1"})
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			tok, err := f.tokens.SignAssertion(id, "billing", 30*time.Second)
			if err != nil {
				t.Fatalf("SignAssertion = %v", err)
			}
			h, _ := decodeParts(t, tok)
			if h["typ"] != "JWT" || h["kid"] != f.kid || h["alg"] != alg {
				t.Fatalf("assertion header = %v; want typ JWT, kid %s, alg %s", h, f.kid, alg)
			}
			// What an upstream does: verify with the published key, for its own audience.
			var c Claims
			key := publicKey(f.signKey)
			_, err = jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return key, nil },
				jwt.WithValidMethods([]string{alg}), jwt.WithAudience("billing"), jwt.WithIssuer("authgate"),
				jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return f.now }))
			if err != nil {
				t.Fatalf("upstream parse of the assertion = %v", err)
			}
			if c.Subject != "42" || c.Username != "alice" || c.SessionID != "sess-1" || !slices.Equal(c.Roles, []string{"dev"}) {
				t.Fatalf("assertion claims = %+v", c)
			}
			if life := c.ExpiresAt.Sub(c.IssuedAtMs.Time); life != 30*time.Second {
				t.Fatalf("assertion lifetime = %s; want 30s", life)
			}
			if _, err := f.tokens.Verify(tok); !errors.Is(err, problem.ErrInvalidToken) {
				t.Fatalf("Verify(assertion) = %v; want problem.ErrInvalidToken", err)
			}
		})
	}

	f := newFixture(t, AlgEdDSA)
	refused := []struct {
		name     string
		id       *identity.Identity
		audience string
		ttl      time.Duration
	}{
		{name: "fail-ttl-over-60s", id: id, audience: "billing", ttl: 61 * time.Second},
		{name: "fail-ttl-zero", id: id, audience: "billing", ttl: 0},
		{name: "fail-audience-empty", id: id, audience: "", ttl: time.Minute},
		{name: "fail-audience-is-access-token-audience", id: id, audience: "authgate", ttl: time.Minute},
		{name: "fail-no-identity", id: nil, audience: "billing", ttl: time.Minute},
		{name: "fail-no-user-id", id: identity.New(identity.Identity{Username: "alice"}), audience: "billing", ttl: time.Minute},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := f.tokens.SignAssertion(tt.id, tt.audience, tt.ttl); err == nil {
				t.Fatalf("SignAssertion(%v, %q, %s) = %q, nil; want an error", tt.id, tt.audience, tt.ttl, tok)
			}
		})
	}
}

func TestAccessTTL(t *testing.T) {
	f := newFixture(t, AlgHS256)
	if got := f.tokens.AccessTTL(); got != testTTL {
		t.Fatalf("AccessTTL() = %s; want %s", got, testTTL)
	}
}

// A cached entry never outlives its token: at exp the signature is checked
// again (and accepted only within the clock skew), after that refused.
func TestVerifyCacheEntryEndsAtExp(t *testing.T) {
	f := newFixture(t, AlgES256)
	tok, exp, err := f.tokens.Issue("42", IssueInput{SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.tokens.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	f.now = exp.Add(-time.Second)
	if again, err := f.tokens.Verify(tok); err != nil || again != first {
		t.Fatalf("Verify before exp = %p, %v; want the cached %p", again, err, first)
	}
	f.now = exp
	if again, err := f.tokens.Verify(tok); err != nil || again == first {
		t.Fatalf("Verify at exp = %p, %v; want a fresh verification within the clock skew", again, err)
	}
	f.now = exp.Add(clockSkew + time.Second)
	if id, err := f.tokens.Verify(tok); !errors.Is(err, problem.ErrInvalidToken) {
		t.Fatalf("Verify after exp = %v, %v; want problem.ErrInvalidToken", id, err)
	}
}

func TestVerifyCachesOnlySuccess(t *testing.T) {
	f := newFixture(t, AlgHS256)
	h, c := f.base()
	c["iss"] = "elsewhere"
	bad := f.sign(t, h, c)
	for range 3 {
		if _, err := f.tokens.Verify(bad); !errors.Is(err, problem.ErrInvalidToken) {
			t.Fatalf("Verify(bad) = %v; want problem.ErrInvalidToken", err)
		}
	}
	if n := f.tokens.cache.size(); n != 0 {
		t.Fatalf("cache holds %d entries after failures; want 0", n)
	}
	if _, err := f.tokens.Verify(f.valid(t)); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.cache.size(); n != 1 {
		t.Fatalf("cache holds %d entries after one success; want 1", n)
	}
}

// 64 goroutines verifying a handful of tokens get one identity per token
// and no data race.
func TestVerifyConcurrent(t *testing.T) {
	f := newFixture(t, AlgES256)
	toks := make([]string, 4)
	for i := range toks {
		tok, _, err := f.tokens.Issue("42", IssueInput{SessionID: "s"})
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = tok
	}
	ids := make([][]*identity.Identity, 64)
	var wg sync.WaitGroup
	for g := range ids {
		wg.Go(func() {
			for i := range 200 {
				id, err := f.tokens.Verify(toks[i%len(toks)])
				if err != nil {
					t.Errorf("Verify = %v", err)
					return
				}
				ids[g] = append(ids[g], id)
			}
		})
	}
	wg.Wait()
	// After the first round every goroutine sees the cached identity.
	for g := range ids {
		for i := len(toks) * 2; i < len(ids[g]); i++ {
			want, _ := f.tokens.Verify(toks[i%len(toks)])
			if ids[g][i].TokenID != want.TokenID {
				t.Fatalf("goroutine %d call %d got token %s; want %s", g, i, ids[g][i].TokenID, want.TokenID)
			}
		}
	}
}

// Verify on a cache hit allocates nothing.
func TestVerifyCachedZeroAllocs(t *testing.T) {
	for _, alg := range []string{AlgHS256, AlgES256} {
		f := newFixture(t, alg)
		tok := f.valid(t)
		if _, err := f.tokens.Verify(tok); err != nil {
			t.Fatal(err)
		}
		var err error
		allocs := testing.AllocsPerRun(1000, func() { _, err = f.tokens.Verify(tok) })
		if err != nil {
			t.Fatal(err)
		}
		if allocs != 0 {
			t.Errorf("%s: Verify (cached) allocates %v times per call; want 0", alg, allocs)
		}
	}
}

// A token too long or of the wrong shape is refused without allocating.
func TestVerifyRejectsOversizeWithoutAllocating(t *testing.T) {
	f := newFixture(t, AlgHS256)
	huge := strings.Repeat("A", 1<<20)
	var err error
	allocs := testing.AllocsPerRun(100, func() { _, err = f.tokens.Verify(huge) })
	if !errors.Is(err, problem.ErrInvalidToken) || allocs != 0 {
		t.Fatalf("Verify(1 MiB) = %v with %v allocs; want problem.ErrInvalidToken, 0 allocs", err, allocs)
	}
}

func benchmarkVerify(b *testing.B, alg string, cached bool) {
	f := newFixture(b, alg, func(t *AccessTokens) {
		if !cached {
			t.cacheSize = 0
		}
	})
	tok := f.valid(b)
	if _, err := f.tokens.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.tokens.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHS256Cold(b *testing.B)   { benchmarkVerify(b, AlgHS256, false) }
func BenchmarkVerifyHS256Cached(b *testing.B) { benchmarkVerify(b, AlgHS256, true) }
func BenchmarkVerifyES256Cold(b *testing.B)   { benchmarkVerify(b, AlgES256, false) }
func BenchmarkVerifyES256Cached(b *testing.B) { benchmarkVerify(b, AlgES256, true) }

// Many goroutines hitting the cache at once, as the gateway does.
func BenchmarkVerifyES256CachedParallel(b *testing.B) {
	f := newFixture(b, AlgES256)
	toks := make([]string, 64)
	for i := range toks {
		toks[i], _, _ = f.tokens.Issue("42", IssueInput{SessionID: "s"})
		f.tokens.Verify(toks[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := f.tokens.Verify(toks[i%len(toks)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// SignAssertion runs once per proxied request when identity_headers.assertion
// is set: its cost is a signature.
func benchmarkSignAssertion(b *testing.B, alg string) {
	f := newFixture(b, alg)
	id := identity.New(identity.Identity{UserID: "42", Username: "alice", Roles: []string{"dev"}, SessionID: "s", TokenID: "t"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.tokens.SignAssertion(id, "billing", time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignAssertionHS256(b *testing.B) { benchmarkSignAssertion(b, AlgHS256) }
func BenchmarkSignAssertionES256(b *testing.B) { benchmarkSignAssertion(b, AlgES256) }
func BenchmarkSignAssertionEdDSA(b *testing.B) { benchmarkSignAssertion(b, AlgEdDSA) }
func BenchmarkSignAssertionRS256(b *testing.B) { benchmarkSignAssertion(b, AlgRS256) }
