package authn

import (
	"net/http"
	"time"

	"github.com/authgate/authgate/accounts"
)

// setSessionCookies stores a token pair in the browser.
//
// The access cookie is __Host- (Secure, Path=/, no Domain: no sibling
// subdomain can set or shadow it), HttpOnly (no script reads it) and
// SameSite=Lax (sent on top-level navigations from elsewhere, so links into
// a protected app work; not on cross-site subrequests or POSTs). It lives as
// long as the session, not the JWT inside it: an expired JWT in the cookie
// tells the gateway that a refresh is worth trying.
//
// With auth_api.cookie_domain the access cookie is __Secure-<name> with
// that Domain instead, so that it reaches the apps on sibling hosts
// (forward-auth); a sibling host can then set one too.
//
// The refresh cookie is sent only to the refresh endpoint (Path), never to a
// proxied app, and only same-site (SameSite=Strict). __Host- requires
// Path=/, so it carries the __Secure- prefix instead.
func (s *Service) setSessionCookies(w http.ResponseWriter, p *accounts.TokenPair) {
	maxAge := int(time.Until(p.RefreshExpires()) / time.Second)
	if maxAge < 1 {
		maxAge = 1
	}
	http.SetCookie(w, s.accessCookie(p.AccessToken, maxAge))
	http.SetCookie(w, s.refreshCookie(p.RefreshToken, maxAge))
}

// clearSessionCookies removes both cookies: the same attributes, an empty
// value and Max-Age=0, so the browser matches and deletes them.
func (s *Service) clearSessionCookies(w http.ResponseWriter) {
	http.SetCookie(w, s.accessCookie("", -1))
	http.SetCookie(w, s.refreshCookie("", -1))
}

func (s *Service) accessCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: s.cookies.access, Value: value, Path: "/", Domain: s.cfg.CookieDomain, MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

func (s *Service) refreshCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: s.cookies.refresh, Value: value, Path: s.cfg.Prefix + "/refresh", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	}
}
