package authn

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
)

// Transparent refresh for browsers. The access cookie lives as long as the
// session but its JWT only access_ttl; the refresh cookie is sent only to
// {prefix}/refresh. So when a browser navigation arrives with an expired JWT
// of ours, the gateway (ShouldRefresh) sends it to GET {prefix}/refresh?rd=…,
// which rotates the refresh cookie and sends the browser back.
//
// The refresh cookie cannot be __Host- (that needs Path=/), so a sibling
// subdomain can set one for the whole site (Domain=example.com): its own
// session's. Rotating it would sign the browser in as the sibling's owner
// (login CSRF). So a refresh cookie counts only for the session of the
// browser's __Host- access cookie (boundSession), which no sibling can set,
// and a navigation that comes from another site, sibling subdomains
// included, never establishes a session.

// ShouldRefresh reports whether r is worth sending to GET
// {prefix}/refresh: its only credential is an access cookie holding a token
// we signed that is expired, or cut off by the denylist (a role change
// revokes access tokens but keeps the session; the refresh brings the new
// roles). Call it after Authenticate failed, for a browser navigation on a
// route with login_redirect.
func (s *Service) ShouldRefresh(r *http.Request) bool {
	_, ok := s.renewable(r)
	return ok
}

// renewable returns the identity of r's access cookie when ShouldRefresh
// holds.
func (s *Service) renewable(r *http.Request) (*identity.Identity, bool) {
	if len(r.Header["Authorization"]) > 0 {
		return nil, false
	}
	token, ok := cookieValue(r.Header, s.cookies.access)
	if !ok || token == "" {
		return nil, false
	}
	id, err := s.tokens.Verify(token)
	if err == nil {
		return id, errors.Is(s.deny.Check(id), problem.ErrTokenRevoked)
	}
	return s.tokens.ExpiredIdentity(token)
}

// boundSession is the session id in r's access cookie — a token we signed,
// valid, expired or cut off by the denylist alike — to which a refresh
// cookie must belong to be rotated. ok is false when the browser has no
// such cookie.
func (s *Service) boundSession(r *http.Request) (sid string, ok bool) {
	token, ok := cookieValue(r.Header, s.cookies.access)
	if !ok || !isB64Token(token) {
		return "", false
	}
	if id, err := s.tokens.Verify(token); err == nil {
		return id.SessionID, true
	}
	if id, ok := s.tokens.ExpiredIdentity(token); ok {
		return id.SessionID, true
	}
	return "", false
}

// maxRefreshCookies bounds how many refresh cookies of one request are
// tried: the browser's own and a few planted beside it.
const maxRefreshCookies = 4

// handleBrowserRefresh is GET {prefix}/refresh?rd=…: with a live refresh
// cookie of the access cookie's session, rotate it, set both cookies and
// 303 to rd; when the session is over, clear the cookies and 302 to the
// login page with the same rd.
//
// A GET that changes state is safe here only because nothing but the
// browser's own session can be renewed: the refresh cookie is
// SameSite=Strict, and bound to the __Host- access cookie. A navigation
// that started on another site (Sec-Fetch-Site: cross-site), or on a
// sibling subdomain (same-site: the sibling may have planted the cookie),
// goes to the login page with its cookies untouched; the page offers to
// continue the session, a same-origin navigation that comes back here.
func (s *Service) handleBrowserRefresh(w http.ResponseWriter, r *http.Request) {
	rd := s.redirectTarget(r.URL.Query().Get("rd"))
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		s.sendToLogin(w, r, rd)
		return
	}
	candidates := refreshCookies(r.Header, s.cookies.refresh)
	if len(candidates) == 0 {
		s.toLogin(w, r, rd)
		return
	}
	sid, ok := s.boundSession(r)
	if !ok {
		// A refresh cookie without an access cookie of ours: not this
		// browser's session to renew (or planted). Left alone.
		s.sendToLogin(w, r, rd)
		return
	}
	// Of several refresh cookies (the browser's own and a planted one),
	// the one of the access cookie's session is rotated; the others are
	// refused untouched.
	var pair *accounts.TokenPair
	err := accounts.ErrRefreshNotBound
	for _, token := range candidates {
		if pair, err = s.accounts.RefreshSession(r.Context(), token, sid); !errors.Is(err, accounts.ErrRefreshNotBound) {
			break
		}
	}
	switch {
	case errors.Is(err, accounts.ErrRefreshNotBound):
		s.sendToLogin(w, r, rd)
		return
	case err != nil && !sessionEnded(err):
		s.fail(w, r, err) // a store is down: keep the cookies for the next try
		return
	case err != nil:
		s.toLogin(w, r, rd)
		return
	}
	s.setSessionCookies(w, pair)
	noStore(w)
	http.Redirect(w, r, rd, http.StatusSeeOther)
}

// refreshCookies returns the distinct values of the refresh cookie that
// could be refresh tokens, at most maxRefreshCookies.
func refreshCookies(h http.Header, name string) []string {
	var out []string
	eachCookie(h, name, func(v string) {
		if len(out) < maxRefreshCookies && isB64Token(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	})
	return out
}

// toLogin clears the session cookies and sends the browser to the login
// page, to come back to rd.
func (s *Service) toLogin(w http.ResponseWriter, r *http.Request, rd string) {
	s.clearSessionCookies(w)
	s.sendToLogin(w, r, rd)
}

// sendToLogin sends the browser to the login page, to come back to rd,
// leaving its cookies alone.
func (s *Service) sendToLogin(w http.ResponseWriter, r *http.Request, rd string) {
	noStore(w)
	http.Redirect(w, r, s.web.prefix+"/login?rd="+url.QueryEscape(rd), http.StatusFound)
}
