package authn

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
)

// The browser logout flow. Logging out changes state, so it is a POST with
// a CSRF token, never a link a foreign page could make the browser follow;
// GET {prefix}/logout shows the confirmation form apps can link to.

// handleLogoutPage is GET {prefix}/logout?rd=….
func (s *Service) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	rd := ""
	if q := r.URL.Query().Get("rd"); q != "" {
		rd = s.redirectTarget(q)
	}
	s.render(w, r, "logout", http.StatusOK, page{Title: "Sign out", RD: rd, SignedInAs: s.signedInAs(r)})
}

// browserLogout is POST {prefix}/logout from one of our forms: the
// browser's session ends everywhere (all=true: every session of the user),
// its cookies are cleared with the attributes they were set with, and it
// goes to rd or the login page (303).
//
// The refresh cookie is scoped to {prefix}/refresh and does not come here,
// so the session is found from the access cookie. An access cookie whose
// JWT has expired still names its session, under our signature: that
// session is ended too, or else a refresh token stolen earlier would
// outlive the logout.
func (s *Service) browserLogout(w http.ResponseWriter, r *http.Request, form url.Values) {
	p := page{Title: "Sign out"}
	if rd := formOrQuery(r, form, "rd"); rd != "" {
		p.RD = s.redirectTarget(rd)
	}
	if err := s.checkForm(r, form); err != nil {
		s.pageError(w, r, "logout", p, err)
		return
	}
	all := form.Get("all") == "true" || r.URL.Query().Get("all") == "true"
	s.clearSessionCookies(w)
	target := p.RD
	if target == "" {
		target = s.web.prefix + "/login"
	}
	if id := s.cookieSession(r); id != nil {
		if err := s.accounts.Logout(r.Context(), id, "", all); err != nil && !errors.Is(err, problem.ErrNotFound) {
			// The cookies are gone from this browser, but the session may
			// live on elsewhere: say so rather than pretend.
			s.pageError(w, r, "logout", p, err)
			return
		}
		// A session that began at a provider with end_session on ends
		// there too (OpenID Connect RP-Initiated Logout 1.0). The form's
		// CSP (form-action 'self') would block a redirect of this POST to
		// the provider, so a page of ours sends the browser on.
		if end := s.accounts.EndSessionURL(r.Context(), id.SessionID, absoluteURL(r, target)); end != "" {
			p.Continue, p.GoTo = end, end
			s.render(w, r, "signedout", http.StatusOK, p)
			return
		}
	}
	noStore(w)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// absoluteURL is target, a path of ours, as an absolute https URL on the
// request's (canonical) host: the post_logout_redirect_uri a provider
// needs, which must be registered there.
func absoluteURL(r *http.Request, target string) string {
	if strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "//") {
		return "https://" + r.Host + target
	}
	return target
}

// cookieSession is the session named by the access cookie: a valid token,
// or one that is ours but expired or cut off. Nil when there is no such
// cookie or it is not ours.
func (s *Service) cookieSession(r *http.Request) *identity.Identity {
	token, ok := cookieValue(r.Header, s.cookies.access)
	if !ok || token == "" {
		return nil
	}
	if id, err := s.tokens.Verify(token); err == nil {
		return id
	}
	id, _ := s.tokens.ExpiredIdentity(token)
	return id
}
