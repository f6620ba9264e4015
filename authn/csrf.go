package authn

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/authgate/authgate/internal/problem"
)

// Cross-site request forgery defences of the login, logout and refresh
// endpoints.
//
// Two independent checks (OWASP CSRF cheat sheet):
//
//  1. Fetch metadata and Origin. A browser says where a request comes from:
//     Sec-Fetch-Site must be same-origin (or none: typed in the address bar);
//     without it, an Origin header must name our own host. A request that
//     fails this is refused, whatever else it carries. This is what
//     net/http's CrossOriginProtection does; we need its third answer
//     ("the browser said nothing") as well, hence our own.
//  2. A double-submit token, for the browser flows. GET of a page sets a
//     random __Host- cookie and puts HMAC(key, cookie) in a hidden field; the
//     POST must bring both, and they must match (compared in constant time).
//     A cross-site page can make a browser send the cookie but cannot read
//     it, nor the field, so it cannot produce the pair. The __Host- prefix
//     keeps a sibling subdomain from planting a cookie of its own.
//
// The browser forms (login, logout) always need both. API requests that
// authenticate with a cookie (a refresh or logout from a script) need the
// token only when the browser sent neither Sec-Fetch-Site nor Origin: every
// current browser sends them, so only an old browser meets that rule.
// Requests without cookies are not forgeable: a foreign page cannot attach
// a bearer token.
//
// The HMAC key is derived from the signing key (HKDF with a label of its
// own), so every instance sharing tokens.secret or the private key accepts
// the others' forms, and nothing new has to be stored. A new signing key
// invalidates forms that are open at that moment; reloading the page helps.
const (
	csrfField  = "csrf_token"   // the hidden form field
	csrfHeader = "X-CSRF-Token" // the same token sent by a script
	// csrfKeyLabel separates this use of the signing key from every other.
	csrfKeyLabel      = "authgate csrf v1"
	csrfCookieBytes   = 32
	csrfCookieEncoded = 43 // base64url of 32 bytes, unpadded
)

// originVerdict is what the browser's own headers say about a request.
type originVerdict uint8

const (
	originUnknown originVerdict = iota // neither Sec-Fetch-Site nor Origin: an old browser, or not a browser
	originSame                         // Sec-Fetch-Site: same-origin/none, or Origin matches Host
	originCross                        // anything else
)

// requestOrigin reads Sec-Fetch-Site (W3C Fetch Metadata), else Origin
// (RFC 6454 §7, SameOrigin). "same-site" is cross-origin here: a sibling
// subdomain is not us.
func requestOrigin(r *http.Request) originVerdict {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "":
	case "same-origin", "none":
		return originSame
	default:
		return originCross
	}
	if r.Header.Get("Origin") == "" {
		return originUnknown
	}
	if SameOrigin(r) {
		return originSame
	}
	return originCross // includes "Origin: null"
}

// checkOrigin is the cross-site check of a state-changing API request.
// cookieAuth says whether it authenticates with a cookie; then a browser
// that sent no origin information must bring a valid CSRF token.
func (s *Service) checkOrigin(r *http.Request, cookieAuth bool, csrfToken string) error {
	switch requestOrigin(r) {
	case originCross:
		return problem.ErrCrossSite
	case originSame:
		return nil
	}
	if cookieAuth && !s.validCSRF(r, csrfToken) {
		return fmt.Errorf("%w: a cookie without Origin, Sec-Fetch-Site or a CSRF token", problem.ErrCrossSite)
	}
	return nil
}

// checkForm is the check of a browser form post: not cross-origin, and a
// CSRF field matching the cookie.
func (s *Service) checkForm(r *http.Request, form url.Values) error {
	if requestOrigin(r) == originCross {
		return problem.ErrCrossSite
	}
	if !s.validCSRF(r, form.Get(csrfField)) {
		return fmt.Errorf("%w: missing or stale CSRF token", problem.ErrCrossSite)
	}
	return nil
}

// csrfFrom returns the CSRF token a script sent: the X-CSRF-Token header, or
// the form field.
func csrfFrom(r *http.Request, body requestBody) string {
	if t := r.Header.Get(csrfHeader); t != "" {
		return t
	}
	if body.kind == bodyForm {
		return body.form.Get(csrfField)
	}
	return ""
}

// csrfCookie returns the browser's CSRF cookie when it is present once and
// well formed.
func (s *Service) csrfCookie(r *http.Request) (string, bool) {
	v, ok := cookieValue(r.Header, s.cookies.csrf)
	if !ok || len(v) != csrfCookieEncoded {
		return "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(v); err != nil {
		return "", false
	}
	return v, true
}

// validCSRF reports whether token is the HMAC of r's CSRF cookie.
func (s *Service) validCSRF(r *http.Request, token string) bool {
	cookie, ok := s.csrfCookie(r)
	if !ok || token == "" {
		return false
	}
	return hmac.Equal([]byte(token), []byte(s.csrfToken(cookie)))
}

// csrfToken is the form field that goes with a CSRF cookie value.
func (s *Service) csrfToken(cookie string) string {
	mac := hmac.New(sha256.New, s.web.csrfKey)
	mac.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// issueCSRF returns the token for a page's form, reusing the browser's
// CSRF cookie (so that several open tabs keep working) or setting a new
// one: __Host- (Secure, Path=/, no Domain), HttpOnly, SameSite=Strict, for
// the browser session.
func (s *Service) issueCSRF(w http.ResponseWriter, r *http.Request) (string, error) {
	cookie, ok := s.csrfCookie(r)
	if !ok {
		b := make([]byte, csrfCookieBytes)
		if _, err := io.ReadFull(s.rand, b); err != nil {
			return "", fmt.Errorf("csrf cookie: %w", err)
		}
		cookie = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{
			Name: s.cookies.csrf, Value: cookie, Path: "/",
			Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		})
	}
	return s.csrfToken(cookie), nil
}
