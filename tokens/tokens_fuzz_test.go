package tokens

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
)

var updateFuzzCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite testdata/fuzz/FuzzVerify from the Verify table")

const fuzzCorpusDir = "testdata/fuzz/FuzzVerify"

// fuzzFixtures are the verifiers FuzzVerify runs every input through, with
// the cache off so that every input reaches the parser.
func fuzzFixtures(tb testing.TB) []*fixture {
	noCache := func(t *AccessTokens) { t.cacheSize = 0 }
	return []*fixture{newFixture(tb, AlgHS256, noCache), newFixture(tb, AlgES256, noCache)}
}

// FuzzVerify: Verify never panics, every refusal wraps problem.ErrInvalidToken,
// and whatever it accepts really is one of our access tokens. The seeds in
// testdata/fuzz/FuzzVerify are the Verify table for HS256 and ES256 at
// testNow with the keys in testdata/tokens.
func FuzzVerify(f *testing.F) {
	fixtures := fuzzFixtures(f)
	f.Fuzz(func(t *testing.T, tok string) {
		for _, fx := range fixtures {
			id, err := fx.tokens.Verify(tok)
			if err != nil {
				if !errors.Is(err, problem.ErrInvalidToken) || id != nil {
					t.Fatalf("%s: Verify(%q) = %v, %v; want nil, problem.ErrInvalidToken", fx.alg, tok, id, err)
				}
				continue
			}
			checkAccepted(t, fx, tok, id)
		}
	})
}

// checkAccepted re-reads an accepted token on its own and fails unless it
// is an access token we could have issued: the configured alg, typ at+jwt,
// no crit, a known kid, every required claim, not expired, and the
// identity taken from those claims.
func checkAccepted(t *testing.T, fx *fixture, tok string, id *identity.Identity) {
	t.Helper()
	h, c := decodeParts(t, tok)
	typ, _ := h["typ"].(string)
	if h["alg"] != fx.alg || !(strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")) {
		t.Fatalf("%s: accepted %q with alg %v typ %v", fx.alg, tok, h["alg"], h["typ"])
	}
	if _, ok := h["crit"]; ok {
		t.Fatalf("%s: accepted %q with crit", fx.alg, tok)
	}
	if kid, ok := h["kid"]; ok && kid != fx.kid && kid != fx.rotKid {
		t.Fatalf("%s: accepted %q with unknown kid %v", fx.alg, tok, kid)
	}
	if c["iss"] != "authgate" {
		t.Fatalf("%s: accepted %q with iss %v", fx.alg, tok, c["iss"])
	}
	if !audienceHas(c["aud"], "authgate") {
		t.Fatalf("%s: accepted %q with aud %v", fx.alg, tok, c["aud"])
	}
	for claim, want := range map[string]string{"sub": id.UserID, "sid": id.SessionID, "jti": id.TokenID} {
		if got, _ := c[claim].(string); got == "" || got != want {
			t.Fatalf("%s: accepted %q with %s %v, identity says %q", fx.alg, tok, claim, c[claim], want)
		}
	}
	exp, okExp := c["exp"].(float64)
	iat, okIat := c["iat"].(float64)
	if !okExp || !okIat {
		t.Fatalf("%s: accepted %q without numeric exp and iat", fx.alg, tok)
	}
	now := float64(fx.now.Unix())
	if exp+clockSkew.Seconds() <= now || iat > now+clockSkew.Seconds() {
		t.Fatalf("%s: accepted %q with exp %v iat %v at %v", fx.alg, tok, exp, iat, now)
	}
	if nbf, ok := c["nbf"].(float64); ok && nbf > now+clockSkew.Seconds() {
		t.Fatalf("%s: accepted %q with nbf %v at %v", fx.alg, tok, nbf, now)
	}
}

func audienceHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if v == want {
				return true
			}
		}
	}
	return false
}

// TestFuzzVerifyCorpus keeps the committed seeds honest: every ok- seed is
// accepted and every fail- seed refused by the verifier of its algorithm.
// With -update-fuzz-corpus it first rewrites them from the Verify table.
func TestFuzzVerifyCorpus(t *testing.T) {
	fixtures := fuzzFixtures(t)
	if *updateFuzzCorpus {
		writeFuzzCorpus(t, fixtures)
	}
	entries, err := os.ReadDir(fuzzCorpusDir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no seed corpus in %s (%v): run go test -run TestFuzzVerifyCorpus -update-fuzz-corpus", fuzzCorpusDir, err)
	}
	byAlg := map[string]*fixture{}
	for _, fx := range fixtures {
		byAlg[fx.alg] = fx
	}
	oks := 0
	for _, e := range entries {
		alg, row, _ := strings.Cut(e.Name(), "-")
		fx := byAlg[alg]
		if fx == nil {
			t.Fatalf("seed %s: unknown algorithm %q", e.Name(), alg)
		}
		tok := readFuzzSeed(t, filepath.Join(fuzzCorpusDir, e.Name()))
		id, err := fx.tokens.Verify(tok)
		switch {
		case strings.HasPrefix(row, "ok-"):
			oks++
			if err != nil {
				t.Errorf("seed %s: Verify = %v; want nil", e.Name(), err)
				continue
			}
			checkAccepted(t, fx, tok, id)
		case !errors.Is(err, problem.ErrInvalidToken):
			t.Errorf("seed %s: Verify = %v; want problem.ErrInvalidToken", e.Name(), err)
		}
	}
	if oks == 0 {
		t.Fatalf("the seed corpus has no valid token")
	}
}

func writeFuzzCorpus(t *testing.T, fixtures []*fixture) {
	t.Helper()
	if err := os.RemoveAll(fuzzCorpusDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(fuzzCorpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, fx := range fixtures {
		for _, row := range verifyRows() {
			if !row.appliesTo(fx.alg) {
				continue
			}
			tok := row.token(t, fx)
			if len(tok) > 2*maxTokenBytes { // the 1 MiB row: no use as a seed file
				continue
			}
			seed := fmt.Sprintf("go test fuzz v1\nstring(%s)\n", strconv.Quote(tok))
			if err := os.WriteFile(filepath.Join(fuzzCorpusDir, fx.alg+"-"+row.name), []byte(seed), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func readFuzzSeed(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	header, value, ok := strings.Cut(strings.TrimSpace(string(data)), "\n")
	if !ok || header != "go test fuzz v1" || !strings.HasPrefix(value, "string(") || !strings.HasSuffix(value, ")") {
		t.Fatalf("seed %s is not a go test fuzz v1 string", file)
	}
	tok, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(value, "string("), ")"))
	if err != nil {
		t.Fatalf("seed %s: %v", file, err)
	}
	return tok
}
