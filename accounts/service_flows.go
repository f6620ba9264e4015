package accounts

// The account flows the /auth API and the gateway drive: login, refresh,
// logout, me and registration.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/tokens"
)

// TokenPair is the answer of login and refresh, in the field names of the
// FastAPI original.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`

	refreshExpires time.Time
}

// RefreshExpires is when the session of the pair ends: how long a browser
// keeps the cookies holding it.
func (p *TokenPair) RefreshExpires() time.Time { return p.refreshExpires }

// Login checks a username and password and opens a session. Failed
// attempts count against the username and the client address; while either
// is throttled even a correct password is refused.
//
// The password is checked against the account as it was read before the
// check, which takes a quarter of a second; an admin command can change
// the account meanwhile and revoke everything the user holds before this
// login has anything. So the session is created from the account as it is
// then (Sessions.Create reads it again, locked): a password change or a
// disable since the check refuses the login, and the tokens carry the
// roles the user has now.
func (s *Service) Login(ctx context.Context, username, password, clientIP string) (*TokenPair, error) {
	u, err := s.checkPassword(ctx, username, password, clientIP)
	if err != nil {
		return nil, err
	}
	var access accessToken
	_, refresh, refreshExp, err := s.sessions.Create(ctx, u.ID, func(current *User, sid string) error {
		if err := stillValid(u, current); err != nil {
			return err
		}
		if s.inSessionTx != nil {
			s.inSessionTx()
		}
		access, err = s.mint(current, sid)
		return err
	})
	if errors.Is(err, problem.ErrNotFound) {
		return nil, problem.ErrInvalidCredentials // the account was deleted meanwhile
	}
	if err != nil {
		return nil, err
	}
	return s.pair(access, refresh, refreshExp), nil
}

// checkPassword checks a username and password through the login
// throttle, and returns the account as read before the check.
func (s *Service) checkPassword(ctx context.Context, username, password, clientIP string) (*User, error) {
	userKey, ipKey := LoginThrottleKeys(usernameKey(username), clientIP)
	keys := []string{userKey, ipKey}
	// Check, verify and count one attempt at a time per key slot, so that
	// concurrent guesses cannot all pass Check before a failure is counted.
	release, err := s.attempts.acquire(ctx, keys...)
	if err != nil {
		return nil, err
	}
	defer release()
	retry, err := s.throttle.Check(ctx, keys...)
	if err != nil {
		return nil, err
	}
	if retry > 0 {
		return nil, &problem.ThrottledError{RetryAfter: retry}
	}
	u, err := s.users.Authenticate(ctx, username, password)
	if errors.Is(err, problem.ErrInvalidCredentials) {
		if ferr := s.throttle.Fail(ctx, keys...); ferr != nil {
			s.logger.Warn("recording a failed login failed", "error", ferr)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	// Only the username's count is reset: resetting the address's would let
	// someone who owns one account clear it between guesses at others.
	if err := s.throttle.Reset(ctx, userKey); err != nil {
		s.logger.Warn("resetting the login throttle failed", "error", err)
	}
	if s.afterPasswordCheck != nil {
		s.afterPasswordCheck()
	}
	return u, nil
}

// stillValid reports whether the password checked against verified (the
// account as read before the check) still opens current (as read when the
// session is created): not if the password was changed, or the account
// disabled, in between.
func stillValid(verified, current *User) error {
	switch {
	case !current.IsActive || !current.DisabledAt.Equal(verified.DisabledAt):
		return problem.ErrUserDisabled
	case !current.PasswordChangedAt.Equal(verified.PasswordChangedAt):
		return problem.ErrInvalidCredentials // the password checked is no longer the account's
	}
	return nil
}

// Refresh rotates a refresh token: the presented token dies, a new pair is
// returned with the user's current roles. A token presented a second time
// revokes its whole session, access tokens included (RFC 9700 §4.14.2).
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*TokenPair, error) {
	return s.RefreshSession(ctx, refreshToken, "")
}

// RefreshSession is Refresh of a token that must belong to session sid,
// when sid is not empty (a browser's refresh cookie, bound to its access
// cookie); one of another session is ErrRefreshNotBound, and left alive.
func (s *Service) RefreshSession(ctx context.Context, refreshToken, sid string) (*TokenPair, error) {
	if s.legacy != nil && sid == "" && !strings.HasPrefix(refreshToken, RefreshTokenPrefix) {
		return s.exchangeLegacy(ctx, refreshToken)
	}
	if s.fed != nil {
		// A session that began at an identity provider asks it again
		// first, so that the tokens minted below carry the roles it grants
		// now, and a user it disabled gets none.
		if err := s.recheckProvider(ctx, refreshToken, sid); err != nil {
			return nil, err
		}
	}
	u, rot, err := s.rotate(ctx, refreshToken, sid, "")
	if err != nil {
		return nil, err
	}
	access, err := s.mint(u, rot.SessionID)
	if err != nil {
		return nil, err
	}
	return s.pair(access, rot.RefreshToken, rot.Expires), nil
}

// rotate rotates a refresh token of a session of clientID ("": a
// sign-in's; see RefreshSession) and returns the session's user as they
// are now; the caller mints the access token.
func (s *Service) rotate(ctx context.Context, refreshToken, sid, clientID string) (*User, Rotation, error) {
	rot, err := s.sessions.RotateFor(ctx, refreshToken, sid, clientID)
	var reuse *ReuseError
	if errors.As(err, &reuse) {
		if derr := s.deny.Revoke(ctx, denylist.Revocation{SessionID: reuse.SessionID, Expires: s.now().Add(s.tokens.AccessTTL())}); derr != nil {
			return nil, Rotation{}, derr
		}
		s.logger.Warn("refresh token reuse: session revoked", "user_id", reuse.UserID, "session", reuse.SessionID)
		return nil, Rotation{}, err
	}
	if err != nil {
		return nil, Rotation{}, err
	}
	u := rot.User
	if u == nil {
		if u, err = s.users.Get(ctx, rot.UserID); err != nil {
			return nil, Rotation{}, err
		}
	}
	if !u.IsActive {
		if _, err := s.sessions.Revoke(ctx, rot.SessionID); err != nil {
			return nil, Rotation{}, err
		}
		return nil, Rotation{}, problem.ErrUserDisabled
	}
	if !rot.Created.After(u.sessionsFrom()) {
		// A session from before the last password change or disable: the
		// change revoked it, unless it was committed beside the change or
		// the command died before revoking. Either way it is over, with
		// its access tokens. (The two times may come from two instances'
		// clocks: a login within their skew after a change, on an instance
		// whose clock is behind, is refused here too, and signs in again.)
		derr := s.deny.Revoke(ctx, denylist.Revocation{SessionID: rot.SessionID, Expires: s.now().Add(s.tokens.AccessTTL())})
		_, serr := s.sessions.Revoke(ctx, rot.SessionID)
		if err := errors.Join(derr, serr); err != nil {
			return nil, Rotation{}, err
		}
		return nil, Rotation{}, problem.ErrInvalidRefreshToken
	}
	return u, rot, nil
}

// accessToken is a signed access token and its expiry.
type accessToken struct {
	token   string
	expires time.Time
}

// mint signs an access token for session sid of u, with u's roles.
func (s *Service) mint(u *User, sid string) (accessToken, error) {
	tok, exp, err := s.tokens.Issue(strconv.FormatInt(u.ID, 10), tokens.IssueInput{
		SessionID: sid, Username: u.Username, Email: u.Email, Roles: u.Roles,
	})
	return accessToken{token: tok, expires: exp}, err
}

// pair is the answer of a login or refresh.
func (s *Service) pair(access accessToken, refresh string, refreshExp time.Time) *TokenPair {
	return &TokenPair{
		AccessToken:    access.token,
		RefreshToken:   refresh,
		TokenType:      "bearer",
		ExpiresIn:      int(access.expires.Sub(s.now()).Round(time.Second) / time.Second),
		refreshExpires: refreshExp,
	}
}

// Logout ends the session of id (or, with only a refresh token, the session
// that token belongs to); with all, every session of the user. The
// denylist is written first: from the moment Logout returns, the session's
// access tokens are rejected on every instance.
func (s *Service) Logout(ctx context.Context, id *identity.Identity, refreshToken string, all bool) error {
	sid, userID := "", ""
	if id != nil {
		sid, userID = id.SessionID, id.UserID
	}
	if refreshToken != "" {
		rsid, ruid, err := s.sessions.Lookup(ctx, refreshToken)
		switch {
		case err == nil:
			if sid != "" && rsid != sid {
				// Two tokens of different sessions: refuse rather than
				// guess which one the client meant.
				return problem.ErrAmbiguousCredentials
			}
			sid, userID = rsid, strconv.FormatInt(ruid, 10)
		case id == nil:
			return err
		}
	}
	if sid == "" {
		return problem.ErrNoCredentials
	}
	now := s.now()
	until := now.Add(s.tokens.AccessTTL())
	// Both stores are written whatever the other answers: a denylist that
	// cannot be written (503, the client retries) must not leave the
	// session's refresh tokens alive too.
	if all {
		uid, err := strconv.ParseInt(userID, 10, 64)
		if err != nil {
			return problem.ErrInvalidToken
		}
		derr := s.deny.Revoke(ctx, denylist.Revocation{UserID: userID, NotBefore: cutoffAfter(now), Expires: until})
		_, serr := s.sessions.RevokeUser(ctx, uid)
		return errors.Join(derr, serr)
	}
	derr := s.deny.Revoke(ctx, denylist.Revocation{SessionID: sid, Expires: until})
	_, serr := s.sessions.Revoke(ctx, sid)
	return errors.Join(derr, serr)
}

// Me returns the user behind an identity.
func (s *Service) Me(ctx context.Context, id *identity.Identity) (*User, error) {
	uid, err := strconv.ParseInt(id.UserID, 10, 64)
	if err != nil {
		return nil, problem.ErrInvalidToken
	}
	u, err := s.users.Get(ctx, uid)
	if errors.Is(err, problem.ErrNotFound) {
		return nil, problem.ErrInvalidToken
	}
	return u, err
}

// registerThrottled is the reason of a 429 on registration.
const registerThrottled = "too many registrations from this address"

// Register creates an account through the public API (subject to
// accounts.registration). Registrations count per client address
// (auth_api.register_limit): every attempt, whatever its outcome, since
// each may cost a password hash; at most as many as the limit are in
// progress at once per address, so a burst cannot slip past the count.
func (s *Service) Register(ctx context.Context, username, email, password, clientIP string) (*User, error) {
	if !s.users.open {
		return nil, problem.ErrRegistrationClosed
	}
	key := RegisterThrottleKey(clientIP)
	release, err := s.registering.acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	defer release()
	retry, err := s.registrations.Check(ctx, key)
	if err != nil {
		return nil, err
	}
	if retry > 0 {
		return nil, &problem.ThrottledError{RetryAfter: retry, Reason: registerThrottled}
	}
	// Counted before the work, so that a registration that fails (or
	// whose client goes away) still counts.
	if err := s.registrations.Fail(ctx, key); err != nil {
		return nil, err
	}
	return s.users.Register(ctx, username, email, password)
}
