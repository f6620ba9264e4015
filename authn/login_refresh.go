package authn

import (
	"errors"
	"net/http"
	"net/url"
)

// Transparent refresh for browsers. The access cookie lives as long as the
// session but its JWT only access_ttl; the refresh cookie is sent only to
// {prefix}/refresh. So when a browser navigation arrives with an expired JWT
// of ours, the gateway (ShouldRefresh) sends it to GET {prefix}/refresh?rd=…,
// which rotates the refresh cookie and sends the browser back.

// ShouldRefresh reports whether r is worth sending to GET
// {prefix}/refresh: its only credential is an access cookie holding a token
// we signed that is expired, or cut off by the denylist (a role change
// revokes access tokens but keeps the session; the refresh brings the new
// roles). Call it after Authenticate failed, for a browser navigation on a
// route with login_redirect.
func (s *Service) ShouldRefresh(r *http.Request) bool {
	if len(r.Header["Authorization"]) > 0 {
		return false
	}
	token, ok := cookieValue(r.Header, s.cookies.access)
	if !ok || token == "" {
		return false
	}
	id, err := s.tokens.Verify(token)
	if err == nil {
		return errors.Is(s.deny.Check(id), ErrTokenRevoked)
	}
	_, expired := s.tokens.expiredIdentity(token)
	return expired
}

// handleBrowserRefresh is GET {prefix}/refresh?rd=…: with a live refresh
// cookie, rotate it, set both cookies and 303 to rd; when the session is
// over, clear the cookies and 302 to the login page with the same rd.
//
// A GET that changes state is safe here only because of the refresh
// cookie's SameSite=Strict: no other site can make a browser send it.
// For the same reason a navigation that started on another site (a link
// from a mail client's web page) arrives without it, even though the
// session is fine. Such a request, marked Sec-Fetch-Site: cross-site, is
// answered with a page that navigates to this same URL again: that second
// navigation starts on our origin, and the cookie comes along.
func (s *Service) handleBrowserRefresh(w http.ResponseWriter, r *http.Request) {
	rd := s.redirectTarget(r.URL.Query().Get("rd"))
	token, ok := cookieValue(r.Header, s.cookies.refresh)
	if !ok || token == "" {
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			s.render(w, r, "bounce", http.StatusOK, page{Title: "Continuing", Next: s.web.prefix + "/refresh?rd=" + url.QueryEscape(rd)})
			return
		}
		s.toLogin(w, r, rd)
		return
	}
	pair, err := s.Refresh(r.Context(), token)
	if err != nil {
		if !sessionEnded(err) {
			s.fail(w, r, err) // a store is down: keep the cookies for the next try
			return
		}
		s.toLogin(w, r, rd)
		return
	}
	s.setSessionCookies(w, pair)
	noStore(w)
	http.Redirect(w, r, rd, http.StatusSeeOther)
}

// toLogin clears the session cookies and sends the browser to the login
// page, to come back to rd.
func (s *Service) toLogin(w http.ResponseWriter, r *http.Request, rd string) {
	s.clearSessionCookies(w)
	noStore(w)
	http.Redirect(w, r, s.web.prefix+"/login?rd="+url.QueryEscape(rd), http.StatusFound)
}
