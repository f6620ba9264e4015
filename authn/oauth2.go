package authn

import (
	"context"
	"errors"
	"net/http"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/provider"
)

// OAuth2Browser is the browser session as the OAuth2 provider sees it
// (provider.Browser): the access cookie the login page sets.
type OAuth2Browser struct{ s *Service }

var _ provider.Browser = OAuth2Browser{}

// OAuth2Browser returns the provider's view of the browser session.
func (s *Service) OAuth2Browser() OAuth2Browser { return OAuth2Browser{s: s} }

// SignedIn implements provider.Browser: the access cookie's token, valid
// and not revoked, as on a protected route. An expired one is not renewed
// here: the provider sends the browser to the login page, which does.
func (b OAuth2Browser) SignedIn(r *http.Request) (*provider.User, error) {
	token, ok := cookieValue(r.Header, b.s.cookies.access)
	if !ok || token == "" || !isB64Token(token) {
		return nil, provider.ErrNotSignedIn
	}
	id, err := b.s.tokens.Verify(token)
	if err != nil {
		return nil, provider.ErrNotSignedIn
	}
	switch err := b.s.deny.Check(id); {
	case errors.Is(err, problem.ErrTokenRevoked):
		return nil, provider.ErrNotSignedIn
	case err != nil:
		return nil, err
	}
	authTime, err := b.s.accounts.OAuth2().SessionAuthTime(r.Context(), id.SessionID)
	if err != nil {
		return nil, err
	}
	if authTime.IsZero() {
		authTime = id.IssuedAt
	}
	return &provider.User{ID: id.UserID, Username: id.Username, Email: id.Email, Roles: id.Roles,
		AuthTime: authTime, SessionID: id.SessionID}, nil
}

// SignOut implements provider.Browser: the client's session sessionID of
// userID, and the browser's own session when it is userID's, end
// everywhere (denylist first); the cookies that clear the browser's are
// returned.
func (b OAuth2Browser) SignOut(r *http.Request, userID, sessionID string) ([]*http.Cookie, error) {
	ctx := r.Context()
	var errs []error
	if sessionID != "" {
		errs = append(errs, b.s.accounts.OAuth2().EndUserSession(ctx, userID, sessionID))
	}
	if id := b.s.cookieSession(r); id != nil && id.UserID == userID {
		if err := b.s.accounts.Logout(ctx, id, "", false); err != nil && !errors.Is(err, problem.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return []*http.Cookie{b.s.accessCookie("", -1), b.s.refreshCookie("", -1)}, nil
}

// ClientIP is the client address the gateway established for r (see
// WithClientIP), else the TCP peer's host: the provider's password grant
// counts failed sign-ins against it, as the login endpoint does.
func ClientIP(r *http.Request) string { return clientIP(r) }

// Wrap gives h what every answer of the auth API has: the security
// headers and the request deadlines. The gateway mounts the provider's
// endpoints through it.
func (s *Service) Wrap(h http.Handler) http.Handler { return securityHeaders(s.withDeadlines(h)) }

// SetFormTarget tells the login page which origin, besides its own, the
// redirect after signing in may lead to for a given rd (CSP form-action
// covers the redirects that answer a form): the provider's FormTarget,
// which names a client's registered redirect URI. The gateway calls it
// once, before serving.
func (s *Service) SetFormTarget(fn func(ctx context.Context, rd string) string) { s.formTarget = fn }
