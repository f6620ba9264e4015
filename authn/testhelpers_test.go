package authn

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// testLogger sends a component's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// waitFor polls cond until it holds and returns how long that took; it gives
// up, failing the test, after 10 s. It asserts nothing about the time.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("gave up after 10s waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

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

// fakeClock is a settable clock for a now field.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// cutoffAt is an instant the clocks of the tests start at.
var cutoffAt = time.Date(2026, 1, 1, 12, 0, 0, 400_000_000, time.UTC)

// testClock is a clock that tests move forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// mustVerify verifies an access token's signature and claims.
func mustVerify(t *testing.T, s *Service, tok string) *identity.Identity {
	t.Helper()
	id, err := s.tokens.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return id
}
