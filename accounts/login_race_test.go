package accounts

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

// liveSessions counts the user's sessions that are neither revoked nor
// expired.
func liveSessions(t *testing.T, s *Service, userID int64) int {
	t.Helper()
	var n int
	err := s.db.Get(&n, s.db.Rebind(`SELECT COUNT(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?`),
		userID, storedTime(s.now()))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLoginRacesAdminChange: a password change, a disable or a role
// removal that lands while a login is between checking the password and
// creating its session wins. The login sees the account as it is when the
// session is created: after a password change or a disable it is refused
// and leaves no session behind; after a role removal its tokens carry the
// roles the user has now. The interleaving is forced by a hook, not left
// to timing.
func TestLoginRacesAdminChange(t *testing.T) {
	const password, newPassword = "the old passphrase 1", "the new passphrase 2"
	tests := []struct {
		name    string
		change  func(ctx context.Context, s *Service) error
		wantErr error // nil: the login succeeds, without the admin role
	}{
		{"fail-passwd", func(ctx context.Context, s *Service) error {
			_, err := s.SetPassword(ctx, "bob", newPassword)
			return err
		}, problem.ErrInvalidCredentials},
		{"fail-disable", func(ctx context.Context, s *Service) error {
			_, err := s.SetActive(ctx, "bob", false)
			return err
		}, problem.ErrUserDisabled},
		{"ok-role-removed", func(ctx context.Context, s *Service) error {
			_, err := s.SetRoles(ctx, "bob", []string{"dev"})
			return err
		}, nil},
	}
	for dbName, newURL := range testenv.Databases() {
		t.Run(dbName, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx := context.Background()
					s := newTestService(t, testSections(newURL(t)))
					bob, err := s.AddUser(ctx, NewUser{Username: "bob", Email: "bob@example.com", Password: password, Roles: []string{"admin", "dev"}})
					if err != nil {
						t.Fatal(err)
					}
					ran := false
					s.afterPasswordCheck = func() {
						if ran {
							return
						}
						ran = true
						if err := tt.change(ctx, s); err != nil {
							t.Errorf("admin change: %v", err)
						}
					}
					pair, err := s.Login(ctx, "bob", password, "192.0.2.1")
					if !ran {
						t.Fatal("the hook did not run between the password check and the session")
					}
					if tt.wantErr != nil {
						if !errors.Is(err, tt.wantErr) {
							t.Errorf("Login = %v (a token pair: %v); want %v", err, pair != nil, tt.wantErr)
						}
						if n := liveSessions(t, s, bob.ID); n != 0 {
							t.Errorf("the refused login left %d live sessions; want none", n)
						}
						return
					}
					if err != nil {
						t.Fatalf("Login = %v; want success with the new roles", err)
					}
					id, err := s.tokens.Verify(pair.AccessToken)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(id.Roles, []string{"dev"}) {
						t.Errorf("access token roles %q; want [dev], the roles after the change", id.Roles)
					}
					next, err := s.Refresh(ctx, pair.RefreshToken)
					if err != nil {
						t.Fatal(err)
					}
					if id, err := s.tokens.Verify(next.AccessToken); err != nil || slices.Contains(id.Roles, "admin") {
						t.Errorf("refreshed token %v, %v; want one without admin", id, err)
					}
				})
			}
		})
	}
}

// TestRefreshRefusesSessionOlderThanCutoff: a session created before the
// user's last password change or disable is never refreshed, even if the
// revocation the change made did not reach it (a session committed beside
// the change, an admin command that died between its update and its
// revocation). The session ends on the spot.
func TestRefreshRefusesSessionOlderThanCutoff(t *testing.T) {
	const password = "the old passphrase 1"
	tests := []struct {
		name   string
		change func(ctx context.Context, u *Users) error
	}{
		{"fail-passwd", func(ctx context.Context, u *Users) error {
			_, err := u.SetPassword(ctx, "carol", "the new passphrase 2")
			return err
		}},
		{"fail-disabled-and-enabled", func(ctx context.Context, u *Users) error {
			if _, err := u.SetActive(ctx, "carol", false); err != nil {
				return err
			}
			_, err := u.SetActive(ctx, "carol", true)
			return err
		}},
	}
	for dbName, newURL := range testenv.Databases() {
		t.Run(dbName, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx := context.Background()
					clock := &testenv.OffsetClock{}
					s := newTestServiceAt(t, testSections(newURL(t)), clock.Now, func(s *Service) {
						s.users.now, s.sessions.now = clock.Now, clock.Now
					})
					carol, err := s.AddUser(ctx, NewUser{Username: "carol", Email: "carol@example.com", Password: password})
					if err != nil {
						t.Fatal(err)
					}
					pair, err := s.Login(ctx, "carol", password, "192.0.2.1")
					if err != nil {
						t.Fatal(err)
					}
					clock.Advance(time.Millisecond)
					// The store's change alone: no revocation follows it.
					if err := tt.change(ctx, s.users); err != nil {
						t.Fatal(err)
					}
					clock.Advance(time.Millisecond)
					if next, err := s.Refresh(ctx, pair.RefreshToken); !errors.Is(err, problem.ErrInvalidRefreshToken) {
						t.Fatalf("Refresh of a session older than the change = %v (a token pair: %v); want %v", err, next != nil, problem.ErrInvalidRefreshToken)
					}
					if n := liveSessions(t, s, carol.ID); n != 0 {
						t.Errorf("%d live sessions after the refused refresh; want none", n)
					}
					if err := s.deny.Check(mustVerify(t, s, pair.AccessToken)); !errors.Is(err, problem.ErrTokenRevoked) {
						t.Errorf("the session's access token after the refused refresh: %v; want %v", err, problem.ErrTokenRevoked)
					}
				})
			}
		})
	}
}

// mustVerify verifies an access token's signature and claims.
func mustVerify(t *testing.T, s *Service, tok string) *identity.Identity {
	t.Helper()
	id, err := s.tokens.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return id
}

// TestLoginHoldsAccountUntilCommit: an admin change that arrives while a
// login's session is being created waits for it, and then revokes it: the
// session, and the access token minted in its transaction, whose iat is
// before the change's cut-off. PostgreSQL only, where the change's wait
// for the row lock can be seen (pg_stat_activity); on SQLite the login's
// transaction holds the database's write lock from BEGIN.
func TestLoginHoldsAccountUntilCommit(t *testing.T) {
	const password = "the old passphrase 1"
	ctx := context.Background()
	s := newTestService(t, testSections(testenv.PostgresURL(t)))
	bob, err := s.AddUser(ctx, NewUser{Username: "bob", Email: "bob@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	disabled := make(chan error, 1)
	s.inSessionTx = func() {
		go func() {
			_, err := s.SetActive(ctx, "bob", false)
			disabled <- err
		}()
		testenv.WaitFor(t, "the disable to wait for the login's row lock", func() bool {
			var n int
			err := s.db.Get(&n, `SELECT COUNT(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE users%'`)
			return err == nil && n == 1
		})
	}
	pair, err := s.Login(ctx, "bob", password, "192.0.2.1")
	if err != nil {
		t.Fatalf("Login = %v; want success: it held the row first", err)
	}
	if err := <-disabled; err != nil {
		t.Fatalf("SetActive(false) = %v", err)
	}
	if err := s.deny.Check(mustVerify(t, s, pair.AccessToken)); !errors.Is(err, problem.ErrTokenRevoked) {
		t.Errorf("the login's access token after the disable: %v; want %v", err, problem.ErrTokenRevoked)
	}
	if n := liveSessions(t, s, bob.ID); n != 0 {
		t.Errorf("%d live sessions after the disable; want none", n)
	}
	if _, err := s.Refresh(ctx, pair.RefreshToken); err == nil {
		t.Error("the login's refresh token still works after the disable")
	}
}
