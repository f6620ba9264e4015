package denylist

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/store"
)

func openTestDB(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// startDBDenylist runs a DBDenylist on db until stop is called or the test
// ends. tune, if not nil, adjusts it before Run starts.
func startDBDenylist(t *testing.T, db *store.DB, onError string, tune func(*DBDenylist)) (d *DBDenylist, stop func()) {
	t.Helper()
	d = NewDBDenylist(db, onError, time.Minute, testenv.Logger(t))
	if tune != nil {
		tune(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run() = %v; want nil after cancel", err)
			}
		})
	}
	t.Cleanup(stop)
	return d, stop
}

func countRevocationRows(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT COUNT(*) FROM revocations`); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDBDenylistPropagates(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			a, _ := startDBDenylist(t, openTestDB(t, url), OnErrorDeny, nil)
			b, _ := startDBDenylist(t, openTestDB(t, url), OnErrorDeny, nil)
			testenv.WaitFor(t, "both instances ready", func() bool { return a.Ready() && b.Ready() })
			ctx := context.Background()

			sess := identity.New(identity.Identity{UserID: "1", SessionID: "s1", IssuedAt: time.Now()})
			old := identity.New(identity.Identity{UserID: "2", SessionID: "s2", IssuedAt: time.Now().Add(-time.Second)})
			fresh := identity.New(identity.Identity{UserID: "2", SessionID: "s3", IssuedAt: time.Now().Add(time.Second)})
			start := time.Now()
			if err := a.Revoke(ctx, Revocation{SessionID: "s1"}); err != nil {
				t.Fatal(err)
			}
			if err := a.Revoke(ctx, Revocation{UserID: "2"}); err != nil {
				t.Fatal(err)
			}
			for _, id := range []*identity.Identity{sess, old} {
				if got := a.Check(id); got != problem.ErrTokenRevoked {
					t.Errorf("a.Check(%s) right after a.Revoke = %v; want %v", id.SessionID, got, problem.ErrTokenRevoked)
				}
			}
			testenv.WaitFor(t, "b to see both revocations", func() bool { return isRevoked(b, sess) && isRevoked(b, old) })
			t.Logf("%s: revocation seen by a second instance after %v (poll every %v)", name, time.Since(start), b.pollEvery)
			if got := b.Check(fresh); got != nil {
				t.Errorf("b.Check(token issued after the cut-off) = %v; want nil", got)
			}
		})
	}
}

func TestDBDenylistSurvivesRestart(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			url := newURL(t)
			db := openTestDB(t, url)
			a, stop := startDBDenylist(t, db, OnErrorDeny, nil)
			testenv.WaitFor(t, "a ready", a.Ready)
			if err := a.Revoke(context.Background(), Revocation{SessionID: "gone"}); err != nil {
				t.Fatal(err)
			}
			stop()
			db.Close()

			b, _ := startDBDenylist(t, openTestDB(t, url), OnErrorDeny, nil)
			testenv.WaitFor(t, "restarted instance ready", b.Ready)
			if got := b.Check(identity.New(identity.Identity{SessionID: "gone"})); got != problem.ErrTokenRevoked {
				t.Errorf("Check(revoked before restart) = %v; want %v", got, problem.ErrTokenRevoked)
			}
			if got := b.Check(identity.New(identity.Identity{SessionID: "live"})); got != nil {
				t.Errorf("Check(unrevoked) = %v; want nil", got)
			}
		})
	}
}

func TestDBDenylistPrune(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			db := openTestDB(t, newURL(t))
			clock := testenv.NewClock(time.Now())
			d := NewDBDenylist(db, OnErrorDeny, time.Minute, testenv.Logger(t))
			d.m.setClock(clock)
			ctx := context.Background()
			for _, r := range []Revocation{
				{SessionID: "short"},
				{UserID: "short"},
				{SessionID: "long", Expires: clock.Now().Add(time.Hour)},
			} {
				if err := d.Revoke(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if got := countRevocationRows(t, db); got != 3 {
				t.Fatalf("revocations rows after 3 Revoke = %d; want 3", got)
			}
			clock.Add(2 * time.Minute)
			d.prune(ctx)
			if got := countRevocationRows(t, db); got != 1 {
				t.Errorf("revocations rows after prune = %d; want 1 (the unexpired one)", got)
			}
			if got := d.m.size(); got != 1 {
				t.Errorf("mirror size after prune = %d; want 1", got)
			}
			// A revocation that can no longer matter is not stored at all.
			if err := d.Revoke(ctx, Revocation{UserID: "ancient", NotBefore: clock.Now().Add(-time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if got := countRevocationRows(t, db); got != 1 {
				t.Errorf("revocations rows after an already-expired Revoke = %d; want 1", got)
			}
		})
	}
}

func TestDBDenylistFailsClosed(t *testing.T) {
	for name, newURL := range testenv.Databases() {
		t.Run(name, func(t *testing.T) {
			db := openTestDB(t, newURL(t))
			fast := func(d *DBDenylist) { d.pollEvery, d.failAfter = 20*time.Millisecond, 200*time.Millisecond }
			deny, _ := startDBDenylist(t, db, OnErrorDeny, fast)
			allow, _ := startDBDenylist(t, db, OnErrorAllow, fast)
			testenv.WaitFor(t, "both instances ready", func() bool { return deny.Ready() && allow.Ready() })
			ctx := context.Background()
			if err := deny.Revoke(ctx, Revocation{SessionID: "known"}); err != nil {
				t.Fatal(err)
			}
			known := identity.New(identity.Identity{SessionID: "known"})
			live := identity.New(identity.Identity{SessionID: "live"})
			testenv.WaitFor(t, "allow instance to see the revocation", func() bool { return isRevoked(allow, known) })

			db.Close() // every query fails from now on
			testenv.WaitFor(t, "instances to stop trusting the mirror", func() bool { return !deny.Ready() && !allow.Ready() })
			tests := []struct {
				name string
				d    *DBDenylist
				id   *identity.Identity
				want error
			}{
				{"fail-deny-unrevoked", deny, live, problem.ErrDenylistUnavailable},
				{"fail-deny-known", deny, known, problem.ErrTokenRevoked},
				{"ok-allow-unrevoked", allow, live, nil},
				{"fail-allow-known", allow, known, problem.ErrTokenRevoked},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if got := tt.d.Check(tt.id); got != tt.want {
						t.Errorf("Check(%s) = %v; want %v", tt.id.SessionID, got, tt.want)
					}
				})
			}
			if err := deny.Revoke(ctx, Revocation{SessionID: "s"}); !errors.Is(err, problem.ErrDenylistUnavailable) {
				t.Errorf("Revoke with the database closed = %v; want an error wrapping %v", err, problem.ErrDenylistUnavailable)
			}
		})
	}
}

// TestDBDenylistLateCommit: PostgreSQL takes a BIGSERIAL id at INSERT and
// makes the row visible at COMMIT, so a row can appear after rows with
// higher ids were already read. The poller must still pick it up.
func TestDBDenylistLateCommit(t *testing.T) {
	url := testenv.PostgresURL(t)
	writer := openTestDB(t, url)
	d, _ := startDBDenylist(t, openTestDB(t, url), OnErrorDeny, nil)
	testenv.WaitFor(t, "instance ready", d.Ready)
	ctx := context.Background()
	insert := `INSERT INTO revocations (kind, subject, not_before, expires_at) VALUES ('session', $1, $2, $3)`
	now := time.Now()
	tx, err := writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, insert, "late", now.UnixMilli(), now.Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.ExecContext(ctx, insert, "early", now.UnixMilli(), now.Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the higher id to be seen", func() bool { return isRevoked(d, identity.New(identity.Identity{SessionID: "early"})) })
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the late-committed lower id to be seen", func() bool { return isRevoked(d, identity.New(identity.Identity{SessionID: "late"})) })
}
