package accounts

// The administrative operations behind `authgate user …`: they use the same
// stores and denylist as the running gateways, so a change reaches every
// instance at once.

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/authgate/authgate/denylist"
)

// AddUser creates an account from the command line, with roles.
func (s *Service) AddUser(ctx context.Context, nu NewUser) (*User, error) {
	return s.users.Create(ctx, nu)
}

// Conflicts adopts the rows the original service wrote and lists those
// that are one account after normalisation: their logins are refused
// until an operator renames or merges them.
func (s *Service) Conflicts(ctx context.Context) ([]Collision, error) { return s.users.Collisions(ctx) }

// ListUsers lists every account.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) { return s.users.List(ctx) }

// SetActive enables or disables an account. Disabling ends every session
// and rejects the user's access tokens at once.
func (s *Service) SetActive(ctx context.Context, username string, active bool) (*User, error) {
	u, err := s.users.SetActive(ctx, username, active)
	if err != nil || active {
		return u, err
	}
	return u, s.cutOff(ctx, u, true)
}

// SetRoles replaces an account's roles. Access tokens carry roles, so the
// user's current access tokens are cut off; their sessions stay, and the
// next refresh picks the new roles up.
func (s *Service) SetRoles(ctx context.Context, username string, roles []string) (*User, error) {
	u, err := s.users.SetRoles(ctx, username, roles)
	if err != nil {
		return u, err
	}
	return u, s.cutOff(ctx, u, false)
}

// SetPassword changes a password and ends every session of the user.
func (s *Service) SetPassword(ctx context.Context, username, password string) (*User, error) {
	u, err := s.users.SetPassword(ctx, username, password)
	if err != nil {
		return u, err
	}
	return u, s.cutOff(ctx, u, true)
}

// cutOff rejects every access token of u issued until now and, with
// sessions, revokes every refresh token too — the latter even when the
// denylist cannot be written, so that a password change made during a
// Redis outage still ends the old sessions.
func (s *Service) cutOff(ctx context.Context, u *User, sessions bool) error {
	now := s.now()
	err := s.deny.Revoke(ctx, denylist.Revocation{UserID: strconv.FormatInt(u.ID, 10), NotBefore: cutoffAfter(now), Expires: now.Add(s.tokens.AccessTTL())})
	if sessions {
		_, serr := s.sessions.RevokeUser(ctx, u.ID)
		err = errors.Join(err, serr)
	}
	return err
}

// cutoffAfter is the not-before of a per-user cut-off made at now: the
// next millisecond boundary. Access tokens carry iat in milliseconds and
// the denylist spares a token whose iat equals the not-before, so with now
// itself a token minted earlier in the same millisecond would survive the
// cut-off. From the next boundary, every token minted in that millisecond
// (before the cut-off or just after: they cannot be told apart) is
// revoked, and one minted a millisecond later is not.
func cutoffAfter(now time.Time) time.Time {
	return now.Truncate(time.Millisecond).Add(time.Millisecond)
}
