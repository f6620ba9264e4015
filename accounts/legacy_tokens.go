package accounts

// The FastAPI original's tokens across the cutover (tokens.legacy, issue
// 12): its access tokens identify their user on protected routes, and its
// refresh tokens are exchanged, once, for an authgate pair. Both are
// opt-in and may cost a database and a Redis round trip; authgate's own
// tokens never reach this file.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/tokens"
)

// legacyRevokedKey is where the original's /logout records a token, in
// its Redis database: the exact token string, unprefixed.
func legacyRevokedKey(token string) string { return "revoked_token:" + token }

// openLegacy builds the legacy verifier of cfg.Tokens.Legacy (nil when the
// block is absent). The original's blacklist lives in Redis: without
// redis.url a logged-out legacy token could not be refused, so the block
// is refused instead.
func (s *Service) openLegacy() error {
	v, err := tokens.NewLegacyVerifier(s.cfg.Tokens.Legacy, s.now)
	if err != nil || v == nil {
		return err
	}
	if s.redis == nil {
		var p conf.Problems
		p.Addf("tokens.legacy", "needs redis.url: the FastAPI service's blacklist (revoked_token:<token>) is read there; point it at the service's REDIS_URL database")
		return p.Err()
	}
	s.legacy = v
	return nil
}

// LegacyEnabled reports whether tokens.legacy is configured.
func (s *Service) LegacyEnabled() bool { return s.legacy != nil }

// LegacyIdentity authenticates an access token of the original: signature
// and expiry under tokens.legacy, not after accept_until, not in the
// original's blacklist, and its user (found by username, as the original
// did) active and never cut off through authgate. The identity has no
// session and no issue time, so any user-wide revocation refuses it.
func (s *Service) LegacyIdentity(ctx context.Context, token string) (*identity.Identity, error) {
	lt, u, err := s.legacyUser(ctx, token, problem.ErrInvalidToken)
	if err != nil {
		return nil, err
	}
	return identity.New(identity.Identity{
		UserID:    strconv.FormatInt(u.ID, 10),
		Username:  u.Username,
		Email:     u.Email,
		Roles:     u.Roles,
		ExpiresAt: lt.ExpiresAt,
	}), nil
}

// legacyUser verifies token and finds its user; every refusal is
// refused (wrapped), or the store's error.
func (s *Service) legacyUser(ctx context.Context, token string, refused error) (tokens.LegacyToken, *User, error) {
	lt, err := s.legacy.Verify(token)
	if err != nil {
		return lt, nil, fmt.Errorf("%w: %w", refused, err)
	}
	n, err := s.redis.Exists(ctx, legacyRevokedKey(token)).Result()
	if err != nil {
		return lt, nil, fmt.Errorf("%w: legacy blacklist: %w", problem.ErrDenylistUnavailable, err)
	}
	if n != 0 {
		return lt, nil, fmt.Errorf("%w: %w", refused, problem.ErrTokenRevoked)
	}
	u, err := s.users.ByUsername(ctx, lt.Username)
	if errors.Is(err, problem.ErrNotFound) {
		return lt, nil, fmt.Errorf("%w: legacy: no user %q", refused, lt.Username)
	}
	if err != nil {
		return lt, nil, err
	}
	if !u.IsActive || !u.sessionsFrom().IsZero() {
		// Disabled, or cut off (password change, disable) through
		// authgate at some time: a legacy token has no issue time to
		// compare with it, so it is refused.
		return lt, nil, fmt.Errorf("%w: legacy: user %d disabled or cut off", refused, u.ID)
	}
	return lt, u, nil
}

// exchangeLegacy turns a refresh token of the original into a new authgate
// session, once: the token is put in the original's blacklist as it is
// exchanged (SET NX, so two concurrent exchanges cannot both win), which
// also ends it on the original.
func (s *Service) exchangeLegacy(ctx context.Context, token string) (*TokenPair, error) {
	lt, u, err := s.legacyUser(ctx, token, problem.ErrInvalidRefreshToken)
	if err != nil {
		return nil, err
	}
	ttl := time.Until(lt.ExpiresAt) + time.Minute
	won, err := s.redis.SetNX(ctx, legacyRevokedKey(token), "1", ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: legacy blacklist: %w", problem.ErrDenylistUnavailable, err)
	}
	if !won {
		return nil, fmt.Errorf("%w: legacy refresh token already exchanged", problem.ErrInvalidRefreshToken)
	}
	var access accessToken
	_, refresh, refreshExp, err := s.sessions.Create(ctx, u.ID, func(current *User, sid string) error {
		if err := stillValid(u, current); err != nil {
			return err
		}
		access, err = s.mint(current, sid)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.logger.Info("legacy refresh token exchanged for a session", "user_id", u.ID)
	return s.pair(access, refresh, refreshExp), nil
}

// LogoutLegacy ends an access token of the original the way its /logout
// did: in its blacklist, until the token expires, so that both services
// refuse it from then on.
func (s *Service) LogoutLegacy(ctx context.Context, token string) error {
	lt, _, err := s.legacyUser(ctx, token, problem.ErrInvalidToken)
	if err != nil {
		return err
	}
	if err := s.redis.Set(ctx, legacyRevokedKey(token), "1", time.Until(lt.ExpiresAt)+time.Minute).Err(); err != nil {
		return fmt.Errorf("%w: legacy blacklist: %w", problem.ErrDenylistUnavailable, err)
	}
	return nil
}
