package authn

import (
	"net/http"
	"strings"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
)

// Source says where a request's credential came from.
type Source uint8

const (
	FromBearer Source = iota + 1 // Authorization: Bearer
	FromCookie                   // the __Host- access cookie
)

// Authenticate establishes who r is from, on the hot path of every protected
// request: the access token comes from `Authorization: Bearer` or the access
// cookie, its signature is checked once and then served from the verified
// token cache, and the revocation check is an in-memory lookup. No database
// or Redis round trip happens here. A browser whose access cookie has
// expired is not refreshed here: the gateway sends it to GET
// {prefix}/refresh (ShouldRefresh), the one path its refresh cookie is
// sent to; Authenticate never answers or sets a cookie itself.
func (s *Service) Authenticate(r *http.Request) (*identity.Identity, Source, error) {
	return s.accessIdentity(r)
}

// credential extracts the one access token of r. Exactly one credential may
// be sent (RFC 6750 §2: "clients MUST NOT use more than one method"): two
// Authorization headers, or a bearer token and an access cookie that differ,
// or two access cookies that differ, are problem.ErrAmbiguousCredentials. None at all
// is problem.ErrNoCredentials. An Authorization header with another scheme is not a
// credential we accept and is reported as malformed.
func (s *Service) credential(r *http.Request) (string, Source, error) {
	var bearer string
	var hasBearer bool
	switch auth := r.Header["Authorization"]; len(auth) {
	case 0:
	case 1:
		tok, ok := parseBearer(auth[0])
		if !ok {
			return "", 0, problem.ErrMalformedAuthorization
		}
		bearer, hasBearer = tok, true
	default:
		return "", 0, problem.ErrAmbiguousCredentials
	}
	cookie, hasCookie, unique := uniqueCookie(r.Header, s.cookies.access)
	if !unique {
		return "", 0, problem.ErrAmbiguousCredentials
	}
	switch {
	case hasBearer && hasCookie && cookie != bearer:
		return "", 0, problem.ErrAmbiguousCredentials
	case hasBearer:
		return bearer, FromBearer, nil
	case hasCookie && cookie != "":
		if !isB64Token(cookie) {
			// Not a token we could have set: refused before parsing.
			return "", 0, problem.ErrInvalidToken
		}
		return cookie, FromCookie, nil
	}
	return "", 0, problem.ErrNoCredentials
}

// parseBearer reads `Bearer <token>` (RFC 6750 §2.1: the scheme is
// case-insensitive; b64token syntax). Anything else is not a bearer
// credential.
func parseBearer(v string) (string, bool) {
	const scheme = "bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimLeft(v[len(scheme):], " ")
	if !isB64Token(tok) {
		return "", false
	}
	return tok, true
}

// isB64Token reports whether tok is an RFC 6750 §2.1 b64token: 1*( ALPHA /
// DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". Every token we issue
// is one; nothing else — no space, separator or control character — is
// ever handed on as a credential.
func isB64Token(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if !b64tokenChars[tok[i]] {
			// Only "=" padding may follow, and not alone (RFC 6750 §2.1).
			return i > 0 && strings.Trim(tok[i:], "=") == ""
		}
	}
	return true
}

// b64tokenChars are RFC 6750's b64token characters except the trailing
// "=". Every request to a protected route runs its whole token (about 500
// bytes for ES256) through isB64Token; a table lookup per byte is twice as
// fast as bit masks and three times as fast as comparisons. Read-only.
var b64tokenChars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = true
	}
	return t
}()

// uniqueCookie scans the Cookie headers for name without allocating. It
// reports the value, whether the cookie is present, and whether every copy
// carries the same value (cookie tossing from a sibling domain can add a
// second cookie of the same name).
func uniqueCookie(h http.Header, name string) (value string, found, unique bool) {
	unique = true
	eachCookie(h, name, func(v string) {
		if found && v != value {
			unique = false
		}
		value, found = v, true
	})
	return value, found, unique
}

// eachCookie calls fn with the value of every cookie called name in the
// Cookie headers, in order, without allocating. Parsing is lenient, like
// browsers': one malformed cookie does not hide the others.
func eachCookie(h http.Header, name string, fn func(value string)) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			if i := strings.IndexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				part, line = line, ""
			}
			part = strings.TrimSpace(part)
			eq := strings.IndexByte(part, '=')
			if eq < 0 || part[:eq] != name {
				continue
			}
			fn(strings.Trim(part[eq+1:], `"`))
		}
	}
}

// cookieValue returns the value of cookie name when it is present exactly
// once (or every copy agrees).
func cookieValue(h http.Header, name string) (string, bool) {
	v, found, unique := uniqueCookie(h, name)
	return v, found && unique
}
