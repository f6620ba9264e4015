package accounts

import (
	"context"
	"testing"
	"time"

	"github.com/authgate/authgate/store"
	"golang.org/x/crypto/bcrypt"
)

// openAccountsDB opens (and migrates) the database at url for one test.
func openAccountsDB(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTestUsers builds a Users on db hashing at bcrypt's minimum cost, so
// tests stay fast under -race, with registration open (the tests register
// their users); the other rules are the defaults unless cfg says
// otherwise.
func newTestUsers(t testing.TB, db *store.DB, cfg Config) *Users {
	t.Helper()
	if cfg.Registration == "" {
		cfg.Registration = registrationOpen
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.MinCost
	}
	if cfg.MinPasswordLength == 0 {
		cfg.MinPasswordLength = defaultMinPasswordLength
	}
	u, err := newUsers(context.Background(), db, cfg)
	if err != nil {
		t.Fatalf("newUsers: %v", err)
	}
	return u
}

// mustRegister registers a user or fails the test.
func mustRegister(t testing.TB, u *Users, username, email, password string) *User {
	t.Helper()
	user, err := u.Register(context.Background(), username, email, password)
	if err != nil {
		t.Fatalf("Register(%q, %q) = %v; want success", username, email, err)
	}
	return user
}

// storedPasswordHash reads a user's password hash straight from the table.
func storedPasswordHash(t testing.TB, db *store.DB, id int64) string {
	t.Helper()
	var h string
	if err := db.Get(&h, db.Rebind(`SELECT hashed_password FROM users WHERE id = ?`), id); err != nil {
		t.Fatalf("read hash: %v", err)
	}
	return h
}

// accountsClock returns a clock stopped at t, advanced by the returned func.
func accountsClock(t time.Time) (now func() time.Time, advance func(time.Duration)) {
	cur := t
	return func() time.Time { return cur }, func(d time.Duration) { cur = cur.Add(d) }
}

// defaulted is c with the loader's defaults applied, as NewUsers expects
// it (it runs the loader's Validate, and re-derives no default).
func defaulted(c Config) Config {
	c.SetDefaults()
	return c
}
