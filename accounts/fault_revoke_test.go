package accounts

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
	"golang.org/x/crypto/bcrypt"
)

// TestRevokeDuringDenylistOutage: logging out (one session or all), a
// password change and disabling a user, made while the denylist cannot be
// written (Redis unreachable), answer with problem.ErrDenylistUnavailable — the
// caller must know — but still end the sessions in the database, so no
// refresh token of theirs works afterwards. Half a logout must not leave
// the half that matters most undone.
func TestRevokeDuringDenylistOutage(t *testing.T) {
	cfg := testSections(testenv.SQLiteURL(t))
	cfg.Redis.URL = "redis://" + testenv.RefusedAddr(t) + "/0" // nothing listens
	cfg.Redis.KeyPrefix = "authgate_test_outage:"
	s, err := Open(context.Background(), cfg, Options{Logger: testenv.Logger(t), DataDir: t.TempDir(), HashCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()

	tests := []struct {
		name   string
		revoke func(u *User, sid string) error
	}{
		{"logout", func(u *User, sid string) error {
			return s.Logout(ctx, identity.New(identity.Identity{UserID: strconv.FormatInt(u.ID, 10), SessionID: sid}), "", false)
		}},
		{"logout-all", func(u *User, sid string) error {
			return s.Logout(ctx, identity.New(identity.Identity{UserID: strconv.FormatInt(u.ID, 10), SessionID: sid}), "", true)
		}},
		{"set-password", func(u *User, _ string) error {
			_, err := s.SetPassword(ctx, u.Username, "a brand new passphrase")
			return err
		}},
		{"disable", func(u *User, _ string) error {
			_, err := s.SetActive(ctx, u.Username, false)
			return err
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "outage" + strconv.Itoa(i)
			u, err := s.users.Create(ctx, NewUser{Username: name, Email: name + "@example.com", Password: "correct horse battery"})
			if err != nil {
				t.Fatal(err)
			}
			sid, refresh, _, err := s.sessions.Create(ctx, u.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.revoke(u, sid); !errors.Is(err, problem.ErrDenylistUnavailable) {
				t.Errorf("%s with the denylist unreachable = %v; want an error wrapping %v", tt.name, err, problem.ErrDenylistUnavailable)
			}
			if _, err := s.sessions.Rotate(ctx, refresh, ""); !errors.Is(err, problem.ErrInvalidRefreshToken) {
				t.Errorf("refresh after %s = %v; want %v: the session must be over", tt.name, err, problem.ErrInvalidRefreshToken)
			}
		})
	}
}
