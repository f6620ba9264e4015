package accounts

import (
	"context"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/store"
	"github.com/authgate/authgate/tokens"
	"github.com/redis/go-redis/v9"
)

// testSecret is an HS256 secret for tests only.
const testSecret = "q3Xv9LmT2pWz8RkN5bYc7HdJ4fGs6AeU"

// testSections is a complete, defaulted configuration of the account side
// for one test on dbURL.
func testSections(dbURL string) Sections {
	return Sections{
		Database: store.Config{URL: dbURL, Timeout: conf.Duration(store.DefaultTimeout)},
		Redis:    denylist.Config{OnError: denylist.OnErrorDeny, KeyPrefix: "authgate:"},
		Tokens: tokens.Config{
			Issuer: "authgate", Audience: "authgate", Algorithm: tokens.AlgHS256, Secret: testSecret,
			AccessTTL: conf.Duration(15 * time.Minute), RefreshTTL: conf.Duration(168 * time.Hour),
		},
		Accounts: Config{Registration: "open", BcryptCost: 10, MinPasswordLength: 8},
		// The tests register many users from one address.
		LoginLimit: "5/min", RegisterLimit: "1000/hour",
	}
}

// newTestService opens a Service hashing passwords at bcrypt's minimum
// cost, with its Run going and its denylist ready.
func newTestService(t *testing.T, cfg Sections) *Service {
	t.Helper()
	return newTestServiceAt(t, cfg, nil, nil)
}

// newTestServiceWith is newTestService with setup run before Run starts.
func newTestServiceWith(t *testing.T, cfg Sections, setup func(*Service)) *Service {
	t.Helper()
	return newTestServiceAt(t, cfg, nil, setup)
}

// newTestServiceAt is newTestServiceWith on the clock now (nil: time.Now).
func newTestServiceAt(t *testing.T, cfg Sections, now func() time.Time, setup func(*Service)) *Service {
	t.Helper()
	s, err := Open(context.Background(), cfg, Options{Logger: testenv.Logger(t), DataDir: t.TempDir(), Now: now, HashCost: bcrypt.MinCost})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if setup != nil {
		setup(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		s.Close()
	})
	testenv.WaitFor(t, "denylist ready", s.deny.Ready)
	return s
}

// sqliteService is a Service on a fresh SQLite database with the embedded
// denylist.
func sqliteService(t *testing.T, edit func(*Sections)) *Service {
	t.Helper()
	cfg := testSections(testenv.SQLiteURL(t))
	if edit != nil {
		edit(&cfg)
	}
	return newTestService(t, cfg)
}

// cutoffAt is an instant the clocks of the tests start at.
var cutoffAt = time.Date(2026, 1, 1, 12, 0, 0, 400_000_000, time.UTC)

// testRedis returns the shared test Redis's URL and a key prefix of this
// test's own; every key under the prefix is deleted when the test ends.
func testRedis(t *testing.T) (url, prefix string) {
	t.Helper()
	return testenv.RedisURL(t)
}

// newTestRedisClient returns a client built by denylist.NewRedisClient,
// closed when the test ends.
func newTestRedisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	c, err := denylist.NewRedisClient(url)
	if err != nil {
		t.Fatalf("NewRedisClient(%q): %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
