package authn

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
)

// handleLogin is POST {prefix}/login. A form carrying the CSRF field comes
// from our login page and is the browser flow (login.go); anything else —
// JSON {username, password}, or an OAuth2 password-grant form
// (RFC 6749 §4.3.2) — is the API flow, answered with a token pair.
func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if body.kind == bodyForm && body.form.Has(csrfField) {
		s.browserLogin(w, r, body.form)
		return
	}
	if requestOrigin(r) == originCross {
		s.fail(w, r, problem.ErrCrossSite)
		return
	}
	if !s.cfg.LocalLoginEnabled() {
		s.fail(w, r, problem.ErrLocalLoginDisabled)
		return
	}
	username, password, err := loginCredentials(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pair, err := s.accounts.Login(r.Context(), username, password, clientIP(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noStore(w)
	writeJSON(w, http.StatusOK, pair)
}

// loginCredentials reads the username and password of an API login.
func loginCredentials(body requestBody) (username, password string, err error) {
	switch body.kind {
	case bodyJSON:
		var req struct {
			Username *string `json:"username"`
			Password *string `json:"password"`
		}
		if err := decodeJSON(body.data, &req); err != nil {
			return "", "", err
		}
		if username, err = required("username", req.Username); err != nil {
			return "", "", err
		}
		password, err = required("password", req.Password)
		return username, password, err
	case bodyForm:
		// OAuth2 password grant: grant_type, scope and client_id may come
		// along; scope and client_id mean nothing here.
		if body.form.Has("grant_type") && body.form.Get("grant_type") != "password" {
			return "", "", &problem.ValidationError{Field: "grant_type", Msg: `must be "password"`}
		}
		if username, err = formField(body.form, "username"); err != nil {
			return "", "", err
		}
		password, err = formField(body.form, "password")
		return username, password, err
	}
	return "", "", fmt.Errorf("%w: send a JSON object or a form", problem.ErrUnsupportedMedia)
}

// handleRefresh is POST {prefix}/refresh: the refresh token from the JSON
// body, `Authorization: Bearer`, or the refresh cookie → a new pair. When
// the token came from the cookie, the new pair is set as cookies too.
func (s *Service) handleRefresh(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inBody, err := bodyRefreshToken(body, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	token, fromCookie, err := s.refreshCredential(r, inBody, true)
	if err == nil {
		err = s.checkOrigin(r, fromCookie, csrfFrom(r, body))
	}
	sid := ""
	if err == nil && fromCookie {
		// A refresh cookie may have been planted by a sibling subdomain:
		// it counts only for the session of the browser's access cookie.
		var ok bool
		if sid, ok = s.boundSession(r); !ok {
			err = accounts.ErrRefreshNotBound
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pair, err := s.accounts.RefreshSession(r.Context(), token, sid)
	if err != nil {
		if fromCookie && sessionEnded(err) && !errors.Is(err, accounts.ErrRefreshNotBound) {
			s.clearSessionCookies(w)
		}
		s.fail(w, r, err)
		return
	}
	if fromCookie {
		s.setSessionCookies(w, pair)
	}
	noStore(w)
	writeJSON(w, http.StatusOK, pair)
}

// bodyRefreshToken reads the optional refresh_token of a refresh or logout
// body. With grant, a form may say grant_type=refresh_token
// (RFC 6749 §6).
func bodyRefreshToken(body requestBody, grant bool) (string, error) {
	switch body.kind {
	case bodyJSON:
		var req struct {
			RefreshToken *string `json:"refresh_token"`
		}
		if err := decodeJSON(body.data, &req); err != nil {
			return "", err
		}
		if req.RefreshToken != nil && *req.RefreshToken == "" {
			return "", &problem.ValidationError{Field: "refresh_token", Msg: "must not be empty"}
		}
		if req.RefreshToken != nil {
			return *req.RefreshToken, nil
		}
	case bodyForm:
		if grant && body.form.Has("grant_type") && body.form.Get("grant_type") != "refresh_token" {
			return "", &problem.ValidationError{Field: "grant_type", Msg: `must be "refresh_token"`}
		}
		return body.form.Get("refresh_token"), nil
	}
	return "", nil
}

// refreshCredential picks the one refresh token of r: from the body
// (inBody), from `Authorization: Bearer` (when bearer is true; on logout
// that header holds the access token) or from the refresh cookie. The same
// token sent twice is one credential; two different ones are
// problem.ErrAmbiguousCredentials (RFC 6750 §2: one method only). fromCookie
// reports whether the cookie was among the sources.
func (s *Service) refreshCredential(r *http.Request, inBody string, bearer bool) (token string, fromCookie bool, err error) {
	var found []string
	if inBody != "" {
		found = append(found, inBody)
	}
	if bearer {
		switch auth := r.Header["Authorization"]; len(auth) {
		case 0:
		case 1:
			tok, ok := parseBearer(auth[0])
			if !ok {
				return "", false, problem.ErrMalformedAuthorization
			}
			found = append(found, tok)
		default:
			return "", false, problem.ErrAmbiguousCredentials
		}
	}
	cookie, hasCookie, unique := uniqueCookie(r.Header, s.cookies.refresh)
	if !unique {
		return "", false, problem.ErrAmbiguousCredentials
	}
	if hasCookie && cookie != "" {
		found = append(found, cookie)
		fromCookie = true
	}
	if len(found) == 0 {
		return "", false, problem.ErrNoCredentials
	}
	for _, f := range found[1:] {
		if f != found[0] {
			return "", false, problem.ErrAmbiguousCredentials
		}
	}
	return found[0], fromCookie, nil
}

// sessionEnded reports whether a refresh failed because the session is
// over for good (as opposed to a store being briefly unavailable): then
// the browser's cookies are useless and are cleared.
func sessionEnded(err error) bool {
	return errors.Is(err, problem.ErrInvalidRefreshToken) || errors.Is(err, problem.ErrRefreshReused) ||
		errors.Is(err, problem.ErrUserDisabled) || errors.Is(err, problem.ErrNotFound) || errors.Is(err, problem.ErrInvalidToken)
}

// logoutResponse is the answer of POST {prefix}/logout.
type logoutResponse struct {
	Message string `json:"message"`
}

// handleLogout is POST {prefix}/logout[?all=true]: the session of the
// access token (bearer or cookie) and/or of the refresh token (body or
// cookie) ends everywhere; with all=true every session of the user. One
// valid credential is enough: an expired or revoked access token with a
// valid refresh token still logs out. A form carrying the CSRF field is
// the browser flow (login_logout.go).
func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if body.kind == bodyForm && body.form.Has(csrfField) {
		s.browserLogout(w, r, body.form)
		return
	}
	all, err := allParam(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inBody, err := bodyRefreshToken(body, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	refresh, refreshCookie, err := s.refreshCredential(r, inBody, false)
	if errors.Is(err, problem.ErrNoCredentials) {
		err = nil
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, src, accessErr := s.accessIdentity(r)
	if err := s.checkOrigin(r, refreshCookie || src == FromCookie, csrfFrom(r, body)); err != nil {
		s.fail(w, r, err)
		return
	}
	// From here on the browser's cookies go, whatever happens.
	s.clearSessionCookies(w)
	if accessErr == nil && id.SessionID == "" && s.accounts.LegacyEnabled() {
		// A token of the FastAPI original (tokens.legacy): ended in its
		// blacklist, as its own /logout would.
		token, _, _ := s.credential(r)
		if err := s.accounts.LogoutLegacy(r.Context(), token); err != nil {
			s.fail(w, r, err)
			return
		}
		noStore(w)
		writeJSON(w, http.StatusOK, logoutResponse{Message: "Successfully logged out"})
		return
	}
	switch {
	case accessErr == nil:
	case s.compat() && refresh == "" && errors.Is(accessErr, problem.ErrTokenRevoked):
		// The original's logout was idempotent: a token logged out
		// already is logged out again, 200.
		noStore(w)
		writeJSON(w, http.StatusOK, logoutResponse{Message: "Successfully logged out"})
		return
	case refresh != "" && (errors.Is(accessErr, problem.ErrNoCredentials) || errors.Is(accessErr, problem.ErrInvalidToken) || errors.Is(accessErr, problem.ErrTokenRevoked)):
		id = nil // the refresh token alone decides
	default:
		s.fail(w, r, accessErr)
		return
	}
	if err := s.accounts.Logout(r.Context(), id, refresh, all); err != nil {
		s.fail(w, r, err)
		return
	}
	noStore(w)
	writeJSON(w, http.StatusOK, logoutResponse{Message: "Successfully logged out"})
}

// allParam reads ?all=.
func allParam(q url.Values) (bool, error) {
	v := q.Get("all")
	if v == "" {
		return false, nil
	}
	all, err := strconv.ParseBool(v)
	if err != nil {
		return false, &problem.ValidationError{Field: "all", Msg: "must be true or false"}
	}
	return all, nil
}

// accessIdentity is the one access token of r, verified and checked
// against the denylist (Authenticate).
func (s *Service) accessIdentity(r *http.Request) (*identity.Identity, Source, error) {
	token, src, err := s.credential(r)
	if err != nil {
		return nil, src, err
	}
	id, err := s.tokens.Verify(token)
	if err != nil && s.accounts.LegacyEnabled() {
		// Only a token authgate did not sign gets here: under
		// tokens.legacy, one of the FastAPI original's, at the cost of a
		// database and a Redis round trip. The original's own error is
		// kept when it is not one either.
		if lid, lerr := s.accounts.LegacyIdentity(r.Context(), token); lerr == nil {
			id, err = lid, nil
		} else if errors.Is(lerr, problem.ErrTokenRevoked) || !errors.Is(lerr, problem.ErrInvalidToken) {
			err = lerr // revoked, or the store cannot answer
		}
	}
	if err != nil {
		return nil, src, err
	}
	if err := s.deny.Check(id); err != nil {
		return nil, src, err
	}
	return id, src, nil
}
