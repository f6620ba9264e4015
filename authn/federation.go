package authn

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/problem"
)

// Sign-in through identity providers (issue 13). The login page links to
// GET {prefix}/login/{provider}?rd=…, which sends the browser to the
// provider (the federation package: PKCE, state and nonce in a sealed
// flow cookie); the provider sends it back to GET
// {prefix}/callback/{provider}, where the sign-in is verified, admitted by
// the account service, and ends like a password login: the session
// cookies and 303 to rd. Failures show the login page again with what a
// person can do about them; the cause goes to the log only.

// providerLink is one provider's button on the login page.
type providerLink struct {
	Name, DisplayName, Type, Href string
}

// providerLinks are the login page's provider buttons, each carrying rd.
func (s *Service) providerLinks(rd string) []providerLink {
	fed := s.accounts.Federation()
	if fed == nil {
		return nil
	}
	var out []providerLink
	for _, p := range fed.Providers() {
		out = append(out, providerLink{
			Name: p.Name, DisplayName: p.DisplayName, Type: p.Type,
			Href: s.web.prefix + "/login/" + p.Name + "?rd=" + url.QueryEscape(rd),
		})
	}
	return out
}

// handleProviderLogin is GET {prefix}/login/{provider}?rd=…: start a
// sign-in at that provider.
func (s *Service) handleProviderLogin(w http.ResponseWriter, r *http.Request) {
	fed := s.accounts.Federation()
	if fed == nil {
		s.fail(w, r, problem.ErrNotFound)
		return
	}
	rd := s.redirectTarget(r.URL.Query().Get("rd"))
	if err := fed.Begin(w, r, r.PathValue("provider"), rd); err != nil {
		s.signInFailed(w, r, rd, accounts.SignInError(err))
	}
}

// handleProviderCallback is GET {prefix}/callback/{name}: the provider
// sends the browser back here with the code (or an error).
func (s *Service) handleProviderCallback(w http.ResponseWriter, r *http.Request) {
	fed := s.accounts.Federation()
	if fed == nil {
		s.fail(w, r, problem.ErrNotFound)
		return
	}
	res, err := fed.Callback(w, r)
	if err != nil {
		s.signInFailed(w, r, "/", accounts.SignInError(err))
		return
	}
	rd := s.redirectTarget(res.ReturnTo)
	pair, err := s.accounts.FederatedLogin(r.Context(), res)
	if err != nil {
		s.signInFailed(w, r, rd, err)
		return
	}
	s.setSessionCookies(w, pair)
	noStore(w)
	http.Redirect(w, r, rd, http.StatusSeeOther)
}

// signInFailed shows the login page with what went wrong, in the status
// internal/problem gives err, and logs the cause (which names no token,
// code or state: the federation package's errors never do).
func (s *Service) signInFailed(w http.ResponseWriter, r *http.Request, rd string, err error) {
	s.logger.Info("sign-in through an identity provider failed", "path", r.URL.Path, "error", err)
	if errors.Is(err, problem.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	s.pageError(w, r, "login", s.loginPage(r, rd), err)
}

// signInMessage is what a person is told about a failed sign-in at a
// provider, or "" when err is no such failure.
func signInMessage(err error) string {
	switch {
	case errors.Is(err, problem.ErrSignInFlow):
		return "This sign-in expired or was started in another browser. Please try again."
	case errors.Is(err, problem.ErrSignInRefused):
		return "The identity provider did not sign you in."
	case errors.Is(err, problem.ErrSignInForbidden):
		return "This account may not sign in here."
	case errors.Is(err, problem.ErrEmailTaken):
		return "An account with this email address already exists. Sign in to it the way you usually do."
	case errors.Is(err, problem.ErrIdentityProviderUnavailable):
		return "The identity provider is unavailable. Try again in a moment."
	case errors.Is(err, problem.ErrLocalLoginDisabled):
		return "Sign in with one of the options below."
	}
	return ""
}

// identityView is a linked identity as the API shows it.
type identityView struct {
	ID          int64  `json:"id"`
	Provider    string `json:"provider"`
	Issuer      string `json:"issuer"`
	Subject     string `json:"subject"`
	Email       string `json:"email"`
	CreatedAt   string `json:"created_at"`
	LastLoginAt string `json:"last_login_at,omitempty"`
}

// handleMyIdentities is GET {prefix}/me/identities: the identities
// linked to the caller's account.
func (s *Service) handleMyIdentities(w http.ResponseWriter, r *http.Request) {
	id, _, err := s.Authenticate(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ids, err := s.accounts.MyIdentities(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]identityView, 0, len(ids))
	for _, i := range ids {
		v := identityView{ID: i.ID, Provider: i.Provider, Issuer: i.Issuer, Subject: i.Subject, Email: i.Email,
			CreatedAt: i.CreatedAt.Format(timeFormat)}
		if !i.LastLoginAt.IsZero() {
			v.LastLoginAt = i.LastLoginAt.Format(timeFormat)
		}
		out = append(out, v)
	}
	noStore(w)
	writeJSON(w, http.StatusOK, out)
}

// timeFormat is how the identity list writes times (RFC 3339, UTC).
const timeFormat = "2006-01-02T15:04:05Z07:00"

// handleUnlinkIdentity is DELETE {prefix}/me/identities/{id}: unlink one
// of the caller's identities, ending the sessions that began through it.
// It changes state, so a browser's cookie counts only from our own
// origin.
func (s *Service) handleUnlinkIdentity(w http.ResponseWriter, r *http.Request) {
	id, src, err := s.Authenticate(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.checkOrigin(r, src == FromCookie, ""); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		s.fail(w, r, problem.ErrNotFound)
		return
	}
	if err := s.accounts.UnlinkMine(r.Context(), id, n); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
