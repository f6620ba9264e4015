package provider

// The interfaces the provider reaches authgate's state through. The caller
// implements them over accounts, tokens, denylist and authn; fakes of them
// are enough to test the protocol here.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel errors the caller's implementations return for the expected
// outcomes. Anything else is a failure of the store behind them and is
// answered 503 server_error, never as a client's fault.
var (
	// ErrInvalidGrant: wrong username or password, or a refresh token that
	// is unknown, expired, dead (reused: the implementation has revoked
	// its session), issued to another client, or whose user is disabled.
	// Answered invalid_grant (RFC 6749 §5.2); the reason is not told.
	ErrInvalidGrant = errors.New("invalid grant")
	// ErrInactive: a token that is not (or no longer) valid: unknown,
	// expired, revoked, logged out. Introspection answers active: false
	// (RFC 7662 §2.2), userinfo 401, revocation 200 (RFC 7009 §2.2).
	ErrInactive = errors.New("token is not active")
	// ErrOtherClient: a token issued to another client than the one
	// presenting it (RFC 7009 §2.1).
	ErrOtherClient = errors.New("token was issued to another client")
	// ErrNotSignedIn: no valid authgate session on this browser.
	ErrNotSignedIn = errors.New("not signed in")
)

// ThrottledError refuses a password check while the username or address
// is locked out by the login throttle. (It stands for authgate's own
// ThrottledError until that moves to internal/problem, which this package
// may import.)
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-ins; retry after %s", e.RetryAfter)
}

// User is what the provider knows of a user: enough for an ID token,
// userinfo and introspection.
type User struct {
	ID            string // the user id: the tokens' sub
	Username      string
	Email         string
	EmailVerified bool
	Roles         []string
	// AuthTime is when the user last entered credentials (OIDC Core §2,
	// auth_time): the browser session's sign-in, not its last refresh.
	AuthTime time.Time
	// SessionID is the browser's authgate session, when the user came
	// from one (Browser.SignedIn).
	SessionID string
}

// Grant is what a new session is opened for.
type Grant struct {
	Client *Client
	// User is the user the tokens are for; nil for client_credentials,
	// whose tokens are the client's own: sub = Client.ID, roles =
	// Client.Roles. For authorization_code only its ID and AuthTime are
	// set (a code keeps no more): Issue reads the user as they are now.
	User     *User
	Scopes   []string  // granted scopes, kept with the session
	AuthTime time.Time // kept with the session, for ID tokens on refresh
	// Refresh asks for a refresh token (the client has the refresh_token
	// grant). Never set for client_credentials (RFC 6749 §4.4.3).
	Refresh bool
}

// Issued is a new or renewed session's tokens.
type Issued struct {
	AccessToken  string    // authgate's access token: JWT, typ at+jwt
	ExpiresAt    time.Time // the access token's exp
	RefreshToken string    // "" when none was asked for
	SessionID    string    // the session the tokens belong to (their sid)
	// The session's user (nil for a client's own token), scopes and
	// auth_time, as they are now: a refresh reports the current user.
	User     *User
	Scopes   []string
	AuthTime time.Time
}

// TokenInfo describes an active token (RFC 7662 §2.2).
type TokenInfo struct {
	Type      string // "access_token" or "refresh_token" (RFC 7009 §2.1 hint names)
	ClientID  string // the client it was issued to; "" for authgate's own sign-ins
	Scopes    []string
	User      *User    // nil for a client's own (client_credentials) token
	Roles     []string // the token's roles claim: the user's, or the client's own
	Subject   string
	Audience  []string
	TokenID   string // jti
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Accounts opens and renews sessions and mints their tokens, over
// authgate's users and sessions. Refresh tokens rotate in families with
// reuse detection, as for the /auth API.
type Accounts interface {
	// CheckPassword checks a username and password for the password grant,
	// through the login throttle: ErrInvalidGrant or *ThrottledError.
	CheckPassword(ctx context.Context, username, password, clientIP string) (*User, error)
	// Issue opens a session for g and mints its tokens: an access token
	// with authgate's claims (sid = the new session), and a refresh token
	// when g.Refresh is set. A disabled user gives ErrInvalidGrant.
	Issue(ctx context.Context, g Grant) (*Issued, error)
	// Refresh rotates refreshToken, which must belong to a session of
	// clientID (else ErrInvalidGrant), and mints a new pair.
	Refresh(ctx context.Context, clientID, refreshToken string) (*Issued, error)
}

// Tokens inspects and revokes tokens and sessions, through the denylist:
// from the moment a revocation returns, every instance treats the session's
// tokens as inactive.
type Tokens interface {
	// Inspect returns what token is, or ErrInactive. An access token is
	// inactive as soon as the denylist has its session or user.
	Inspect(ctx context.Context, token string) (*TokenInfo, error)
	// Revoke ends the session token belongs to (RFC 7009: an access or
	// refresh token, either revokes the session). ErrInactive for a token
	// that is not active, ErrOtherClient for one of another client.
	Revoke(ctx context.Context, clientID, token string) error
	// EndSession ends a session by id: the tokens an authorization code
	// produced, when the code is used a second time (RFC 6749 §4.1.2).
	EndSession(ctx context.Context, sessionID string) error
}

// Browser is authgate's browser session, as the login page keeps it.
type Browser interface {
	// SignedIn returns the user signed in on the browser r comes from, or
	// ErrNotSignedIn. It must not write anything: a session about to
	// expire is the login page's to refresh.
	SignedIn(r *http.Request) (*User, error)
	// SignOut ends, for RP-initiated logout, the client's session
	// sessionID (the ID token's sid) of user userID and, when it is
	// userID's, the browser's own session, everywhere (denylist first),
	// and returns the cookies that clear the browser's.
	SignOut(r *http.Request, userID, sessionID string) ([]*http.Cookie, error)
}
