package accounts

import (
	"context"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/store"
)

// failWrites makes every write of kind ("INSERT", "UPDATE" or "DELETE") on
// table fail inside the database, as a full disk or a constraint added by
// an operator would: a trigger that raises. The returned function removes
// it.
func failWrites(t *testing.T, db *store.DB, kind, table string) (restore func()) {
	t.Helper()
	name := "authgate_test_fail_" + table
	var stmts, undo []string
	if db.Dialect == store.Postgres {
		stmts = []string{
			`CREATE OR REPLACE FUNCTION authgate_test_fail() RETURNS trigger AS $$
			 BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql`,
			`CREATE TRIGGER ` + name + ` BEFORE ` + kind + ` ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION authgate_test_fail()`,
		}
		undo = []string{`DROP TRIGGER ` + name + ` ON ` + table}
	} else {
		stmts = []string{`CREATE TRIGGER ` + name + ` BEFORE ` + kind + ` ON ` + table + ` BEGIN SELECT RAISE(ABORT, 'injected failure'); END`}
		undo = []string{`DROP TRIGGER ` + name}
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("install the failing trigger: %v", err)
		}
	}
	return func() {
		for _, s := range undo {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("remove the failing trigger: %v", err)
			}
		}
	}
}

func (f *sessionsFixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.Get(&n, f.db.Rebind(query), args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSessionWritesAreAtomic: every session write that touches more than
// one row is one transaction. A failure in its last statement leaves
// nothing of it behind: no session without a refresh token; a refresh
// token not marked used without its successor (the session keeps exactly
// one live token, the caller's); no session half pruned. Cancellation at
// any point is TestSessionRotateCancelled.
func TestSessionWritesAreAtomic(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			f := newSessionsFixture(t, newURL(t), time.Hour)
			ctx := context.Background()

			t.Run("create", func(t *testing.T) {
				restore := failWrites(t, f.db, "INSERT", "refresh_tokens")
				_, _, _, err := f.s.Create(ctx, f.userID, nil)
				restore()
				if err == nil {
					t.Fatal("Create with refresh_tokens refusing inserts = nil error")
				}
				if n := f.count(t, `SELECT COUNT(*) FROM sessions`); n != 0 {
					t.Errorf("%d sessions after a failed Create; want 0 (no session without its refresh token)", n)
				}
			})

			sid, tok, _, err := f.s.Create(ctx, f.userID, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("rotate", func(t *testing.T) {
				restore := failWrites(t, f.db, "INSERT", "refresh_tokens")
				_, err := f.s.Rotate(ctx, tok, "")
				restore()
				if err == nil {
					t.Fatal("Rotate with refresh_tokens refusing inserts = nil error")
				}
				if live := f.liveTokens(t, sid); len(live) != 1 || live[0] != refreshTokenHash(tok) {
					t.Fatalf("live tokens after a failed Rotate = %v; want exactly the caller's", live)
				}
				// The caller may try again: not a reuse.
				r, err := f.s.Rotate(ctx, tok, "")
				if err != nil {
					t.Fatalf("Rotate after the failure cleared = %v; want success", err)
				}
				tok = r.RefreshToken
			})

			t.Run("prune", func(t *testing.T) {
				if _, err := f.s.Revoke(ctx, sid); err != nil {
					t.Fatal(err)
				}
				later := time.Now().Add(pruneGrace + time.Hour)
				sessions := f.count(t, `SELECT COUNT(*) FROM sessions`)
				tokens := f.count(t, `SELECT COUNT(*) FROM refresh_tokens`)
				restore := failWrites(t, f.db, "DELETE", "sessions")
				_, err := f.s.Prune(ctx, later)
				restore()
				if err == nil {
					t.Fatal("Prune with sessions refusing deletes = nil error")
				}
				if s, r := f.count(t, `SELECT COUNT(*) FROM sessions`), f.count(t, `SELECT COUNT(*) FROM refresh_tokens`); s != sessions || r != tokens {
					t.Errorf("after a failed Prune: %d sessions, %d refresh tokens; want %d and %d (nothing half deleted)", s, r, sessions, tokens)
				}
				if n, err := f.s.Prune(ctx, later); err != nil || n != 1 {
					t.Errorf("Prune after the failure cleared = %d, %v; want 1", n, err)
				}
			})
		})
	}
}

// TestUserWritesAreAtomic: account writes are single statements, so a
// failing one changes nothing — the password, roles and state stay as
// they were. The user-key backfill, the one multi-row write, is one
// transaction: TestBackfillCollision shows that no row changes when it
// fails.
func TestUserWritesAreAtomic(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			db := openAccountsDB(t, newURL(t))
			u := newTestUsers(t, db, Config{})
			ctx := context.Background()
			before := mustRegister(t, u, "ivan", "ivan@example.com", "correct horse battery")
			hash := storedPasswordHash(t, db, before.ID)

			restore := failWrites(t, db, "UPDATE", "users")
			_, errPw := u.SetPassword(ctx, "ivan", "another fine passphrase")
			_, errRoles := u.SetRoles(ctx, "ivan", []string{"admin"})
			_, errActive := u.SetActive(ctx, "ivan", false)
			restore()
			if errPw == nil || errRoles == nil || errActive == nil {
				t.Fatalf("updates with users refusing them = %v, %v, %v; want errors", errPw, errRoles, errActive)
			}
			after, err := u.ByUsername(ctx, "ivan")
			if err != nil {
				t.Fatal(err)
			}
			if got := storedPasswordHash(t, db, before.ID); got != hash {
				t.Error("the password hash changed although SetPassword failed")
			}
			if !after.IsActive || len(after.Roles) != 0 || !after.PasswordChangedAt.IsZero() {
				t.Errorf("user after failed updates = %+v; want it unchanged", after)
			}
			if _, err := u.Authenticate(ctx, "ivan", "correct horse battery"); err != nil {
				t.Errorf("Authenticate with the old password = %v; want success", err)
			}

			restore = failWrites(t, db, "INSERT", "users")
			_, err = u.Register(ctx, "judy", "judy@example.com", "correct horse battery")
			restore()
			if err == nil {
				t.Fatal("Register with users refusing inserts = nil error")
			}
			if _, err := u.Register(ctx, "judy", "judy@example.com", "correct horse battery"); err != nil {
				t.Errorf("Register after the failure cleared = %v; want success (nothing of the failed one left)", err)
			}
		})
	}
}
