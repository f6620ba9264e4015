package accounts

// The OAuth2 provider's view of the accounts (package provider's Accounts
// and Tokens interfaces): sessions opened for a client, with its scopes;
// the client's own client_credentials tokens; introspection and
// revocation through the denylist.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/provider"
	"github.com/authgate/authgate/tokens"
)

// OAuth2 implements provider.Accounts and provider.Tokens over the
// service. Build it with Service.OAuth2.
type OAuth2 struct{ s *Service }

var (
	_ provider.Accounts = OAuth2{}
	_ provider.Tokens   = OAuth2{}
)

// OAuth2 returns the provider's view of the service.
func (s *Service) OAuth2() OAuth2 { return OAuth2{s: s} }

// ProviderUser is what the provider knows of u.
func ProviderUser(u *User) *provider.User {
	return &provider.User{
		ID:       strconv.FormatInt(u.ID, 10),
		Username: u.Username,
		Email:    u.Email,
		Roles:    u.Roles,
	}
}

// CheckPassword implements provider.Accounts: the password grant goes
// through the login throttle, as POST {prefix}/login does.
func (o OAuth2) CheckPassword(ctx context.Context, username, password, clientIP string) (*provider.User, error) {
	u, err := o.s.checkPassword(ctx, username, password, clientIP)
	var throttled *problem.ThrottledError
	switch {
	case errors.As(err, &throttled):
		return nil, &provider.ThrottledError{RetryAfter: throttled.RetryAfter}
	case errors.Is(err, problem.ErrInvalidCredentials), errors.Is(err, problem.ErrUserDisabled):
		return nil, provider.ErrInvalidGrant
	case err != nil:
		return nil, err
	}
	pu := ProviderUser(u)
	pu.AuthTime = o.s.now()
	return pu, nil
}

// Issue implements provider.Accounts. A user's grant opens a session
// (a refresh-token family like a sign-in's, recording the client and the
// scopes); a client's own grant opens none: its token's sid is fresh, so
// that revoking it (denylist by sid) works like any other.
func (o OAuth2) Issue(ctx context.Context, g provider.Grant) (*provider.Issued, error) {
	scope := strings.Join(g.Scopes, " ")
	if g.User == nil {
		sid, err := o.s.sessions.randomString(sessionIDBytes)
		if err != nil {
			return nil, err
		}
		tok, exp, err := o.s.tokens.Issue(g.Client.ID, tokens.IssueInput{
			SessionID: sid, Roles: g.Client.Roles, ClientID: g.Client.ID, Scope: scope,
		})
		if err != nil {
			return nil, err
		}
		return &provider.Issued{AccessToken: tok, ExpiresAt: exp, SessionID: sid, Scopes: g.Scopes}, nil
	}
	uid, err := strconv.ParseInt(g.User.ID, 10, 64)
	if err != nil {
		return nil, provider.ErrInvalidGrant
	}
	var (
		access accessToken
		user   *User
	)
	grant := ClientGrant{ClientID: g.Client.ID, Scopes: g.Scopes, AuthTime: g.AuthTime}
	sid, refresh, _, err := o.s.sessions.CreateFor(ctx, uid, grant, func(current *User, sid string) error {
		if !current.IsActive {
			return problem.ErrUserDisabled
		}
		user = current
		access, err = o.mintFor(current, sid, g.Client.ID, scope)
		return err
	})
	switch {
	case errors.Is(err, problem.ErrNotFound), errors.Is(err, problem.ErrUserDisabled):
		return nil, provider.ErrInvalidGrant
	case err != nil:
		return nil, err
	}
	out := &provider.Issued{AccessToken: access.token, ExpiresAt: access.expires, SessionID: sid,
		User: ProviderUser(user), Scopes: g.Scopes, AuthTime: g.AuthTime}
	out.User.AuthTime = g.AuthTime
	if g.Refresh {
		out.RefreshToken = refresh
	}
	return out, nil
}

// mintFor signs an access token of session sid of u for a client.
func (o OAuth2) mintFor(u *User, sid, clientID, scope string) (accessToken, error) {
	tok, exp, err := o.s.tokens.Issue(strconv.FormatInt(u.ID, 10), tokens.IssueInput{
		SessionID: sid, Username: u.Username, Email: u.Email, Roles: u.Roles, ClientID: clientID, Scope: scope,
	})
	return accessToken{token: tok, expires: exp}, err
}

// clientSession is what a refresh token's session records of its client.
type clientSession struct {
	refreshRow
	Scopes   string       `db:"scopes"`
	AuthTime sql.NullTime `db:"auth_time"`
}

func (o OAuth2) clientSession(ctx context.Context, refreshToken string) (*clientSession, error) {
	if !strings.HasPrefix(refreshToken, RefreshTokenPrefix) {
		return nil, nil
	}
	var cs clientSession
	err := o.s.db.QueryRowxContext(ctx, o.s.db.Rebind(`SELECT `+refreshColumns+`, s.scopes, s.auth_time`+refreshFrom),
		refreshTokenHash(refreshToken)).StructScan(&cs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, o.s.sessions.err(ctx, "look up refresh token", err)
	}
	return &cs, nil
}

// live reports whether cs's token is the live one of a live session.
func (cs *clientSession) live(now time.Time) bool {
	now = storedTime(now)
	return !cs.UsedAt.Valid && !cs.RevokedAt.Valid && now.Before(cs.TokenExpires) && now.Before(cs.SessionExpires)
}

func (cs *clientSession) authTime() time.Time {
	if cs.AuthTime.Valid {
		return cs.AuthTime.Time.UTC()
	}
	return cs.SessionCreated.UTC()
}

// Refresh implements provider.Accounts: the token must be of a session of
// clientID; it rotates like a sign-in's (reuse revokes the session).
func (o OAuth2) Refresh(ctx context.Context, clientID, refreshToken string) (*provider.Issued, error) {
	cs, err := o.clientSession(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	if cs == nil || cs.ClientID == "" || cs.ClientID != clientID {
		// Another client's token is refused untouched: rotating it would
		// let one client burn another's session.
		return nil, provider.ErrInvalidGrant
	}
	u, rot, err := o.s.rotate(ctx, refreshToken, cs.SessionID, clientID)
	switch {
	case errors.Is(err, problem.ErrInvalidRefreshToken), errors.Is(err, problem.ErrRefreshReused),
		errors.Is(err, problem.ErrUserDisabled), errors.Is(err, problem.ErrNotFound):
		return nil, provider.ErrInvalidGrant
	case err != nil:
		return nil, err
	}
	access, err := o.mintFor(u, rot.SessionID, clientID, cs.Scopes)
	if err != nil {
		return nil, err
	}
	pu := ProviderUser(u)
	pu.AuthTime = cs.authTime()
	return &provider.Issued{AccessToken: access.token, ExpiresAt: access.expires, RefreshToken: rot.RefreshToken,
		SessionID: rot.SessionID, User: pu, Scopes: strings.Fields(cs.Scopes), AuthTime: pu.AuthTime}, nil
}

// Inspect implements provider.Tokens. An access token is active while it
// verifies and the denylist (the in-memory mirror, as on a protected
// route) does not cover it; a refresh token while it is the live one of a
// live session.
func (o OAuth2) Inspect(ctx context.Context, token string) (*provider.TokenInfo, error) {
	if strings.HasPrefix(token, RefreshTokenPrefix) {
		return o.inspectRefresh(ctx, token)
	}
	c, err := o.s.tokens.Claims(token)
	if err != nil {
		return nil, provider.ErrInactive
	}
	id, err := o.s.tokens.Verify(token)
	if err != nil {
		return nil, provider.ErrInactive
	}
	switch err := o.s.deny.Check(id); {
	case errors.Is(err, problem.ErrTokenRevoked):
		return nil, provider.ErrInactive
	case err != nil:
		return nil, err
	}
	info := &provider.TokenInfo{
		Type: "access_token", ClientID: c.ClientID, Scopes: strings.Fields(c.Scope),
		Roles: id.Roles, Subject: id.UserID, Audience: c.Audience, TokenID: id.TokenID,
		SessionID: id.SessionID, IssuedAt: id.IssuedAt, ExpiresAt: id.ExpiresAt,
	}
	// User ids are numbers and client ids never only digits: a token
	// whose sub is not a number is a client's own.
	if _, err := strconv.ParseInt(id.UserID, 10, 64); err == nil {
		info.User = &provider.User{ID: id.UserID, Username: id.Username, Email: id.Email, Roles: id.Roles, SessionID: id.SessionID}
	}
	return info, nil
}

func (o OAuth2) inspectRefresh(ctx context.Context, token string) (*provider.TokenInfo, error) {
	cs, err := o.clientSession(ctx, token)
	if err != nil {
		return nil, err
	}
	if cs == nil || !cs.live(o.s.now()) {
		return nil, provider.ErrInactive
	}
	u, err := o.s.users.Get(ctx, cs.UserID)
	if errors.Is(err, problem.ErrNotFound) {
		return nil, provider.ErrInactive
	}
	if err != nil {
		return nil, err
	}
	if !u.IsActive || !cs.SessionCreated.After(u.sessionsFrom()) {
		return nil, provider.ErrInactive
	}
	pu := ProviderUser(u)
	pu.AuthTime, pu.SessionID = cs.authTime(), cs.SessionID
	return &provider.TokenInfo{
		Type: "refresh_token", ClientID: cs.ClientID, Scopes: strings.Fields(cs.Scopes), User: pu,
		Roles: u.Roles, Subject: pu.ID, SessionID: cs.SessionID, IssuedAt: cs.SessionCreated.UTC(), ExpiresAt: cs.TokenExpires.UTC(),
	}, nil
}

// Revoke implements provider.Tokens: an access or refresh token of
// clientID ends its whole session (RFC 7009 §2.1).
func (o OAuth2) Revoke(ctx context.Context, clientID, token string) error {
	info, err := o.Inspect(ctx, token)
	if err != nil {
		return err
	}
	if info.ClientID != clientID {
		return provider.ErrOtherClient
	}
	return o.EndSession(ctx, info.SessionID)
}

// EndSession implements provider.Tokens: the denylist first, so that from
// the moment it returns every instance rejects the session's tokens; then
// the session's refresh tokens. A client's own token has no session row.
func (o OAuth2) EndSession(ctx context.Context, sid string) error {
	derr := o.s.deny.Revoke(ctx, denylist.Revocation{SessionID: sid, Expires: o.s.now().Add(o.s.tokens.AccessTTL())})
	_, serr := o.s.sessions.Revoke(ctx, sid)
	if errors.Is(serr, problem.ErrNotFound) {
		serr = nil
	}
	if err := errors.Join(derr, serr); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// EndUserSession ends session sid if it is userID's (RP-initiated
// logout's id_token_hint names both); another user's is left alone.
func (o OAuth2) EndUserSession(ctx context.Context, userID, sid string) error {
	var owner int64
	err := o.s.db.GetContext(ctx, &owner, o.s.db.Rebind(`SELECT user_id FROM sessions WHERE id = ?`), sid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return o.s.sessions.err(ctx, "look up session", err)
	}
	if strconv.FormatInt(owner, 10) != userID {
		return nil
	}
	return o.EndSession(ctx, sid)
}

// SessionAuthTime is when the user of session sid signed in (the
// browser's session: OIDC auth_time); zero when the session is unknown.
func (o OAuth2) SessionAuthTime(ctx context.Context, sid string) (time.Time, error) {
	var t time.Time
	err := o.s.db.GetContext(ctx, &t, o.s.db.Rebind(`SELECT created_at FROM sessions WHERE id = ?`), sid)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, o.s.sessions.err(ctx, "look up session", err)
	}
	return t.UTC(), nil
}
