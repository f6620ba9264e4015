package authn

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/problem"
)

// FuzzCredential drives the Authorization and Cookie parsers of the
// protected-route path — parseBearer, uniqueCookie and credential — with
// arbitrary header values. For any input:
//   - nothing panics;
//   - a token handed on (to Verify) is a non-empty RFC 6750 b64token: no
//     space, separator, quote or control character;
//   - two copies of the access cookie with different values are
//     ambiguous (cookie tossing), as are two Authorization headers, and a
//     bearer token that differs from the cookie;
//   - every refusal is one of the request-path sentinels.
//
// The seeds are in testdata/fuzz/FuzzCredential.
func FuzzCredential(f *testing.F) {
	s := &Service{cookies: newCookieNames("authgate", "")}
	name := s.cookies.access
	f.Fuzz(func(t *testing.T, auth string, authCount uint8, cookie1, cookie2 string) {
		// parseBearer alone.
		if tok, ok := parseBearer(auth); ok {
			checkB64Token(t, "parseBearer("+quote(auth)+")", tok)
			if !strings.HasSuffix(auth, tok) {
				t.Fatalf("parseBearer(%q) = %q, which is not the end of the header", auth, tok)
			}
		}

		h := http.Header{}
		for range authCount % 3 {
			h.Add("Authorization", auth)
		}
		for _, c := range []string{cookie1, cookie2} {
			if c != "" {
				h.Add("Cookie", c)
			}
		}

		// uniqueCookie against an independent reading of the lines.
		value, found, unique := uniqueCookie(h, name)
		values := cookieValues(h["Cookie"], name)
		if found != (len(values) > 0) {
			t.Fatalf("uniqueCookie(%q) found = %t; the lines hold %q", h["Cookie"], found, values)
		}
		if distinct := countDistinct(values); unique != (distinct <= 1) {
			t.Fatalf("uniqueCookie(%q) unique = %t with values %q", h["Cookie"], unique, values)
		}
		if found && unique && value != values[0] {
			t.Fatalf("uniqueCookie(%q) = %q; want %q", h["Cookie"], value, values[0])
		}

		r := &http.Request{Header: h}
		tok, src, err := s.credential(r)
		if err != nil {
			switch {
			case errors.Is(err, problem.ErrNoCredentials), errors.Is(err, problem.ErrAmbiguousCredentials),
				errors.Is(err, problem.ErrMalformedAuthorization), errors.Is(err, problem.ErrInvalidToken):
			default:
				t.Fatalf("credential(%q) = %v; not a request-path sentinel", h, err)
			}
			if tok != "" {
				t.Fatalf("credential(%q) = %q with error %v", h, tok, err)
			}
		} else {
			checkB64Token(t, "credential("+quote(h)+")", tok)
			if src != FromBearer && src != FromCookie {
				t.Fatalf("credential(%q) source = %d", h, src)
			}
		}
		if countDistinct(values) > 1 && !errors.Is(err, problem.ErrAmbiguousCredentials) && len(h["Authorization"]) <= 1 &&
			!errors.Is(err, problem.ErrMalformedAuthorization) {
			t.Fatalf("credential(%q) with access cookies %q = %q, %v; want %v", h, values, tok, err, problem.ErrAmbiguousCredentials)
		}
		if len(h["Authorization"]) > 1 && !errors.Is(err, problem.ErrAmbiguousCredentials) {
			t.Fatalf("credential with two Authorization headers = %q, %v; want %v", tok, err, problem.ErrAmbiguousCredentials)
		}
		if b, ok := parseBearer(auth); ok && len(h["Authorization"]) == 1 && len(values) > 0 && countDistinct(values) == 1 &&
			values[0] != b && !errors.Is(err, problem.ErrAmbiguousCredentials) {
			t.Fatalf("credential with bearer %q and cookie %q = %q, %v; want %v", b, values[0], tok, err, problem.ErrAmbiguousCredentials)
		}
	})
}

func quote(v any) string {
	switch v := v.(type) {
	case string:
		return `"` + v + `"`
	case http.Header:
		return strings.Join(v["Authorization"], "|") + " / " + strings.Join(v["Cookie"], "|")
	}
	return ""
}

func checkB64Token(t *testing.T, what, tok string) {
	t.Helper()
	if tok == "" {
		t.Fatalf("%s returned an empty token", what)
	}
	body := strings.TrimRight(tok, "=")
	if body == "" {
		t.Fatalf("%s = %q: padding only", what, tok)
	}
	for _, c := range []byte(body) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			t.Fatalf("%s = %q: byte %q is not a b64token character", what, tok, c)
		}
	}
}

// cookieValues reads every value of cookie name from Cookie lines: pairs
// separated by ";", spaces around a pair ignored, a value's surrounding
// double quotes removed (RFC 6265 §4.2.1, §5.4).
func cookieValues(lines []string, name string) []string {
	var out []string
	for _, line := range lines {
		for _, pair := range strings.Split(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && k == name {
				out = append(out, strings.Trim(v, `"`))
			}
		}
	}
	return out
}

func countDistinct(vs []string) int {
	seen := map[string]bool{}
	for _, v := range vs {
		seen[v] = true
	}
	return len(seen)
}
