package authn

// The account flows the /auth API and the gateway drive: login, refresh,
// logout, me and registration.

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// TokenPair is the answer of login and refresh, in the field names of the
// FastAPI original.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`

	accessExpires  time.Time
	refreshExpires time.Time
}

// Login checks a username and password and opens a session. Failed
// attempts count against the username and the client address; while either
// is throttled even a correct password is refused.
func (s *Service) Login(ctx context.Context, username, password, clientIP string) (*TokenPair, error) {
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
		return nil, &ThrottledError{RetryAfter: retry}
	}
	u, err := s.users.Authenticate(ctx, username, password)
	if errors.Is(err, ErrInvalidCredentials) {
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
	sid, refresh, refreshExp, err := s.sessions.Create(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return s.issue(u, sid, refresh, refreshExp)
}

// Refresh rotates a refresh token: the presented token dies, a new pair is
// returned with the user's current roles. A token presented a second time
// revokes its whole session, access tokens included (RFC 9700 §4.14.2).
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*TokenPair, error) {
	rot, err := s.sessions.Rotate(ctx, refreshToken)
	var reuse *ReuseError
	if errors.As(err, &reuse) {
		if derr := s.deny.Revoke(ctx, Revocation{SessionID: reuse.SessionID, Expires: s.now().Add(s.tokens.AccessTTL())}); derr != nil {
			return nil, derr
		}
		s.logger.Warn("refresh token reuse: session revoked", "user_id", reuse.UserID, "session", reuse.SessionID)
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	u := rot.User
	if u == nil {
		if u, err = s.users.Get(ctx, rot.UserID); err != nil {
			return nil, err
		}
	}
	if !u.IsActive {
		if _, err := s.sessions.Revoke(ctx, rot.SessionID); err != nil {
			return nil, err
		}
		return nil, ErrUserDisabled
	}
	return s.issue(u, rot.SessionID, rot.RefreshToken, rot.Expires)
}

func (s *Service) issue(u *User, sid, refresh string, refreshExp time.Time) (*TokenPair, error) {
	access, exp, err := s.tokens.Issue(strconv.FormatInt(u.ID, 10), IssueInput{
		SessionID: sid, Username: u.Username, Email: u.Email, Roles: u.Roles,
	})
	if err != nil {
		return nil, err
	}
	return &TokenPair{
		AccessToken:    access,
		RefreshToken:   refresh,
		TokenType:      "bearer",
		ExpiresIn:      int(exp.Sub(s.now()).Round(time.Second) / time.Second),
		accessExpires:  exp,
		refreshExpires: refreshExp,
	}, nil
}

// Logout ends the session of id (or, with only a refresh token, the session
// that token belongs to); with all, every session of the user. The
// denylist is written first: from the moment Logout returns, the session's
// access tokens are rejected on every instance.
func (s *Service) Logout(ctx context.Context, id *Identity, refreshToken string, all bool) error {
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
				return ErrAmbiguousCredentials
			}
			sid, userID = rsid, strconv.FormatInt(ruid, 10)
		case id == nil:
			return err
		}
	}
	if sid == "" {
		return ErrNoCredentials
	}
	now := s.now()
	until := now.Add(s.tokens.AccessTTL())
	// Both stores are written whatever the other answers: a denylist that
	// cannot be written (503, the client retries) must not leave the
	// session's refresh tokens alive too.
	if all {
		uid, err := strconv.ParseInt(userID, 10, 64)
		if err != nil {
			return ErrInvalidToken
		}
		derr := s.deny.Revoke(ctx, Revocation{UserID: userID, NotBefore: cutoffAfter(now), Expires: until})
		_, serr := s.sessions.RevokeUser(ctx, uid)
		return errors.Join(derr, serr)
	}
	derr := s.deny.Revoke(ctx, Revocation{SessionID: sid, Expires: until})
	_, serr := s.sessions.Revoke(ctx, sid)
	return errors.Join(derr, serr)
}

// Me returns the user behind an identity.
func (s *Service) Me(ctx context.Context, id *Identity) (*User, error) {
	uid, err := strconv.ParseInt(id.UserID, 10, 64)
	if err != nil {
		return nil, ErrInvalidToken
	}
	u, err := s.users.Get(ctx, uid)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidToken
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
		return nil, ErrRegistrationClosed
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
		return nil, &ThrottledError{RetryAfter: retry, Reason: registerThrottled}
	}
	// Counted before the work, so that a registration that fails (or
	// whose client goes away) still counts.
	if err := s.registrations.Fail(ctx, key); err != nil {
		return nil, err
	}
	return s.users.Register(ctx, username, email, password)
}
