package accounts

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

func TestLoginThrottleKeys(t *testing.T) {
	tests := []struct {
		name     string
		username string
		ip       string
		wantUser string
		wantIP   string
	}{
		{"ok-ipv4", "alice", "203.0.113.7", "user:alice", "ip:203.0.113.7"},
		{"ok-username-case-folded", "ALICE", "203.0.113.7", "user:alice", "ip:203.0.113.7"},
		{"ok-ipv4-mapped", "alice", "::ffff:203.0.113.7", "user:alice", "ip:203.0.113.7"},
		{"ok-ipv6-reduced-to-64", "alice", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "user:alice", "ip:2001:db8:1:2::/64"},
		{"ok-ipv6-same-64", "alice", "2001:db8:1:2::1", "user:alice", "ip:2001:db8:1:2::/64"},
		{"ok-ipv6-zone-dropped", "alice", "fe80::1%eth0", "user:alice", "ip:fe80::/64"},
		{"ok-unparseable-kept", "alice", "unknown", "user:alice", "ip:unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, ip := LoginThrottleKeys(tt.username, tt.ip)
			if user != tt.wantUser || ip != tt.wantIP {
				t.Errorf("LoginThrottleKeys(%q, %q) = %q, %q; want %q, %q", tt.username, tt.ip, user, ip, tt.wantUser, tt.wantIP)
			}
		})
	}
}

// throttleImpls builds each implementation for the shared behaviour tests.
func throttleImpls() map[string]func(t *testing.T, limit string) Throttle {
	return map[string]func(t *testing.T, limit string) Throttle{
		"memory": func(t *testing.T, limit string) Throttle {
			m, err := NewThrottleMemory(limit, 0)
			if err != nil {
				t.Fatal(err)
			}
			return m
		},
		"redis": func(t *testing.T, limit string) Throttle {
			url, prefix := testRedis(t)
			r, err := NewThrottleRedis(newTestRedisClient(t, url), prefix, limit)
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
	}
}

func TestThrottleLimitsFailures(t *testing.T) {
	for name, newThrottle := range throttleImpls() {
		t.Run(name, func(t *testing.T) {
			th := newThrottle(t, "5/min")
			ctx := context.Background()
			user, ip := LoginThrottleKeys("alice", "203.0.113.7")
			for i := range 5 {
				wait, err := th.Check(ctx, user, ip)
				if err != nil || wait != 0 {
					t.Fatalf("Check before failure %d = %v, %v; want 0, nil", i+1, wait, err)
				}
				if err := th.Fail(ctx, user, ip); err != nil {
					t.Fatal(err)
				}
			}
			// The sixth attempt is refused before its password is looked at.
			wait, err := th.Check(ctx, user, ip)
			if err != nil || wait <= 0 || wait > time.Minute {
				t.Fatalf("Check after 5 failures = %v, %v; want a wait in (0, 1m]", wait, err)
			}
			// Another user from another address is unaffected.
			otherUser, otherIP := LoginThrottleKeys("bob", "198.51.100.1")
			if wait, err := th.Check(ctx, otherUser, otherIP); err != nil || wait != 0 {
				t.Errorf("Check(other user and address) = %v, %v; want 0, nil", wait, err)
			}
			// The same user from another address: the username key holds.
			if wait, err := th.Check(ctx, user, otherIP); err != nil || wait <= 0 {
				t.Errorf("Check(same user, other address) = %v, %v; want a wait", wait, err)
			}
			// After a successful login the handler resets the username key
			// only: the address stays throttled.
			if err := th.Reset(ctx, user); err != nil {
				t.Fatal(err)
			}
			if wait, err := th.Check(ctx, user, otherIP); err != nil || wait != 0 {
				t.Errorf("Check(user after Reset, other address) = %v, %v; want 0, nil", wait, err)
			}
			if wait, err := th.Check(ctx, otherUser, ip); err != nil || wait <= 0 {
				t.Errorf("Check(other user, throttled address) after Reset = %v, %v; want a wait", wait, err)
			}
		})
	}
}

func TestThrottleMemoryWindow(t *testing.T) {
	th, err := NewThrottleMemory("5/min", 0)
	if err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(cutoffAt)
	th.now = clock.Now
	ctx := context.Background()
	for range 5 {
		th.Fail(ctx, "user:alice")
	}
	clock.Add(10 * time.Second)
	if wait, _ := th.Check(ctx, "user:alice"); wait != 50*time.Second {
		t.Errorf("Check 10s after the first failure = %v; want 50s (the rest of the window)", wait)
	}
	clock.Add(50 * time.Second)
	if wait, _ := th.Check(ctx, "user:alice"); wait != 0 {
		t.Errorf("Check once the window closed = %v; want 0", wait)
	}
	// A new window opens with the next failure.
	th.Fail(ctx, "user:alice")
	if wait, _ := th.Check(ctx, "user:alice"); wait != 0 {
		t.Errorf("Check after 1 failure in a new window = %v; want 0", wait)
	}
}

func TestThrottleRedisWindow(t *testing.T) {
	url, prefix := testRedis(t)
	th, err := NewThrottleRedis(newTestRedisClient(t, url), prefix, "2/sec")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	th.Fail(ctx, "user:alice")
	th.Fail(ctx, "user:alice")
	if wait, err := th.Check(ctx, "user:alice"); err != nil || wait <= 0 || wait > time.Second {
		t.Fatalf("Check after 2 failures = %v, %v; want a wait in (0, 1s]", wait, err)
	}
	testenv.WaitFor(t, "the window to close", func() bool {
		wait, err := th.Check(ctx, "user:alice")
		return err == nil && wait == 0
	})
}

func TestThrottleRedisShared(t *testing.T) {
	url, prefix := testRedis(t)
	a, _ := NewThrottleRedis(newTestRedisClient(t, url), prefix, "5/min")
	b, _ := NewThrottleRedis(newTestRedisClient(t, url), prefix, "5/min")
	ctx := context.Background()
	for i := range 5 {
		th := a
		if i%2 == 1 {
			th = b
		}
		if err := th.Fail(ctx, "ip:203.0.113.7"); err != nil {
			t.Fatal(err)
		}
	}
	for name, th := range map[string]*ThrottleRedis{"a": a, "b": b} {
		if wait, err := th.Check(ctx, "ip:203.0.113.7"); err != nil || wait <= 0 {
			t.Errorf("%s.Check after 5 failures spread over two instances = %v, %v; want a wait", name, wait, err)
		}
	}
}

// globQuote quotes the glob metacharacters of KEYS patterns.
var globQuote = strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`, `\`, `\\`)

func TestThrottleRedisStoresNoNames(t *testing.T) {
	url, prefix := testRedis(t)
	c := newTestRedisClient(t, url)
	th, _ := NewThrottleRedis(c, prefix, "5/min")
	ctx := context.Background()
	user, ip := LoginThrottleKeys("alice@example.com", "203.0.113.7")
	if err := th.Fail(ctx, user, ip); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, globQuote.Replace(prefix)+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys under the prefix = %q; want 2", keys)
	}
	shape := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `throttle:[0-9a-f]{32}$`)
	for _, k := range keys {
		if !shape.MatchString(k) || strings.Contains(k, "alice") || strings.Contains(k, "203.0.113") {
			t.Errorf("key %q: want %sthrottle:<32 hex> and no username or address", k, prefix)
		}
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("PTTL(%s) = %v; want in (0, 1m]", k, ttl)
		}
	}
}

func TestThrottleRedisUnavailable(t *testing.T) {
	url := "redis://" + testenv.RefusedAddr(t) + "/0" // nothing listens
	th, _ := NewThrottleRedis(newTestRedisClient(t, url), "authgate_test_none:", "5/min")
	ctx := context.Background()
	if _, err := th.Check(ctx, "user:alice"); !errors.Is(err, problem.ErrThrottleUnavailable) {
		t.Errorf("Check without Redis = %v; want an error wrapping %v", err, problem.ErrThrottleUnavailable)
	}
	if err := th.Fail(ctx, "user:alice"); !errors.Is(err, problem.ErrThrottleUnavailable) {
		t.Errorf("Fail without Redis = %v; want an error wrapping %v", err, problem.ErrThrottleUnavailable)
	}
	if err := th.Reset(ctx, "user:alice"); !errors.Is(err, problem.ErrThrottleUnavailable) {
		t.Errorf("Reset without Redis = %v; want an error wrapping %v", err, problem.ErrThrottleUnavailable)
	}
}

func TestThrottleMemoryBounded(t *testing.T) {
	th, err := NewThrottleMemory("5/min", 10)
	if err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(cutoffAt)
	th.now = clock.Now
	ctx := context.Background()
	for i := range 100 {
		clock.Add(time.Millisecond)
		th.Fail(ctx, "ip:"+strconv.Itoa(i))
	}
	if got := th.Len(); got != 10 {
		t.Errorf("Len() after 100 keys with maxKeys 10 = %d; want 10", got)
	}
	// The newest counters are the ones kept.
	for range 4 {
		th.Fail(ctx, "ip:99")
	}
	if wait, _ := th.Check(ctx, "ip:99"); wait <= 0 {
		t.Errorf("Check(newest key after 5 failures) = %v; want a wait", wait)
	}
	// Counters whose window closed go first.
	clock.Add(time.Minute)
	th.Fail(ctx, "ip:new")
	if got := th.Len(); got != 1 {
		t.Errorf("Len() after every window closed = %d; want 1", got)
	}
	// Resets leave stale queue items behind; they must not pile up.
	for i := range 1000 {
		k := "user:" + strconv.Itoa(i)
		th.Fail(ctx, k)
		th.Reset(ctx, k)
	}
	if queued := len(th.order) - th.head; queued > 2*64+2 {
		t.Errorf("queued items after 1000 fail/reset cycles = %d; want them compacted", queued)
	}
}
