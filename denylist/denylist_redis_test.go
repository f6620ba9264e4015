package denylist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/identity"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

// startRedisDenylist returns a RedisDenylist with a client of its own, its
// Run going until the test ends.
func startRedisDenylist(t *testing.T, url, prefix, onError string, accessTTL time.Duration) *RedisDenylist {
	t.Helper()
	d := NewRedisDenylist(newTestRedisClient(t, url), prefix, onError, accessTTL, testenv.Logger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil after cancel", err)
		}
	})
	return d
}

func isRevoked(d Denylist, id *identity.Identity) bool {
	return errors.Is(d.Check(id), problem.ErrTokenRevoked)
}

func TestRedisDenylistPropagation(t *testing.T) {
	url, prefix := testRedis(t)
	a := startRedisDenylist(t, url, prefix, OnErrorDeny, time.Minute)
	b := startRedisDenylist(t, url, prefix, OnErrorDeny, time.Minute)
	testenv.WaitFor(t, "both instances ready", func() bool { return a.Ready() && b.Ready() })
	ctx := context.Background()

	// Latency from the start of Revoke on a to the moment Check on b
	// rejects. Logged for the report, not asserted.
	const n = 200
	lat := make([]time.Duration, 0, n)
	for i := range n {
		id := identity.New(identity.Identity{UserID: "7", SessionID: "sid-" + strconv.Itoa(i), IssuedAt: time.Now()})
		if err := b.Check(id); err != nil {
			t.Fatalf("b.Check(%s) before revocation = %v; want nil", id.SessionID, err)
		}
		start := time.Now()
		if err := a.Revoke(ctx, Revocation{SessionID: id.SessionID}); err != nil {
			t.Fatalf("Revoke(%s): %v", id.SessionID, err)
		}
		if !isRevoked(a, id) {
			t.Fatalf("a.Check(%s) right after a.Revoke = %v; want %v", id.SessionID, a.Check(id), problem.ErrTokenRevoked)
		}
		for !isRevoked(b, id) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("b.Check(%s) still %v 10s after the revocation", id.SessionID, b.Check(id))
			}
			runtime.Gosched()
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("redis denylist propagation to a second instance over %d revocations: p50 %v, p90 %v, p99 %v, max %v",
		n, q(0.50), q(0.90), q(0.99), lat[len(lat)-1])

	// A user cut-off travels the same way.
	old := identity.New(identity.Identity{UserID: "8", SessionID: "s8", IssuedAt: time.Now().Add(-time.Second)})
	if err := a.Revoke(ctx, Revocation{UserID: "8"}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "user cut-off on b", func() bool { return isRevoked(b, old) })
	fresh := identity.New(identity.Identity{UserID: "8", SessionID: "s9", IssuedAt: time.Now().Add(time.Second)})
	if err := b.Check(fresh); err != nil {
		t.Errorf("b.Check(token issued after the cut-off) = %v; want nil", err)
	}
}

func TestRedisDenylistLoadsOnStart(t *testing.T) {
	url, prefix := testRedis(t)
	ctx := context.Background()
	// a writes without running: as an instance that has since stopped.
	a := NewRedisDenylist(newTestRedisClient(t, url), prefix, OnErrorDeny, time.Minute, testenv.Logger(t))
	t1 := time.Now().Truncate(time.Millisecond)
	t0 := t1.Add(-10 * time.Second)
	for _, r := range []Revocation{
		{SessionID: "gone"},
		{UserID: "42", NotBefore: t1},
		{UserID: "42", NotBefore: t0}, // an older cut-off arriving late must not lower it
	} {
		if err := a.Revoke(ctx, r); err != nil {
			t.Fatalf("Revoke(%+v): %v", r, err)
		}
	}
	b := startRedisDenylist(t, url, prefix, OnErrorDeny, time.Minute)
	if err := b.Check(identity.New(identity.Identity{SessionID: "live"})); !errors.Is(err, problem.ErrDenylistUnavailable) && !b.Ready() {
		t.Errorf("Check before the first load = %v; want %v", err, problem.ErrDenylistUnavailable)
	}
	testenv.WaitFor(t, "b ready", b.Ready)
	tests := []struct {
		name string
		id   identity.Identity
		want error
	}{
		{"fail-session", identity.Identity{UserID: "1", SessionID: "gone"}, problem.ErrTokenRevoked},
		{"fail-between-cutoffs", identity.Identity{UserID: "42", SessionID: "x", IssuedAt: t1.Add(-time.Second)}, problem.ErrTokenRevoked},
		{"ok-after-cutoff", identity.Identity{UserID: "42", SessionID: "x", IssuedAt: t1.Add(time.Millisecond)}, nil},
		{"ok-other", identity.Identity{UserID: "1", SessionID: "live"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Check(identity.New(tt.id)); got != tt.want {
				t.Errorf("Check(%s/%s) = %v; want %v", tt.id.UserID, tt.id.SessionID, got, tt.want)
			}
		})
	}
}

func TestRedisDenylistKeysExpire(t *testing.T) {
	url, prefix := testRedis(t)
	c := newTestRedisClient(t, url)
	ctx := context.Background()
	const ttl = 300 * time.Millisecond
	d := NewRedisDenylist(c, prefix, OnErrorDeny, ttl, testenv.Logger(t))
	if err := d.Revoke(ctx, Revocation{SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Revoke(ctx, Revocation{UserID: "u1"}); err != nil {
		t.Fatal(err)
	}
	keys := []string{prefix + "deny:sid:s1", prefix + "deny:user:u1"}
	for _, key := range keys {
		pttl, err := c.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if pttl <= 0 || pttl > ttl {
			t.Errorf("PTTL(%s) = %v; want in (0, %v]", key, pttl, ttl)
		}
	}
	testenv.WaitFor(t, "the keys to expire", func() bool { return c.Exists(ctx, keys...).Val() == 0 })
	// The mirror drops them on its next prune.
	d.m.now = func() time.Time { return time.Now().Add(ttl) }
	if n := d.m.prune(); n != 2 {
		t.Errorf("prune() = %d; want 2", n)
	}
}

func TestRedisDenylistWithoutRedis(t *testing.T) {
	url := "redis://" + testenv.RefusedAddr(t) + "/0" // nothing listens
	d := startRedisDenylist(t, url, "authgate_test_none:", OnErrorDeny, time.Minute)
	err := d.Revoke(context.Background(), Revocation{SessionID: "s"})
	if !errors.Is(err, problem.ErrDenylistUnavailable) {
		t.Errorf("Revoke without Redis = %v; want an error wrapping %v", err, problem.ErrDenylistUnavailable)
	}
	if got := d.Check(identity.New(identity.Identity{SessionID: "s"})); got != problem.ErrTokenRevoked {
		t.Errorf("Check(revoked here, store failed) = %v; want %v", got, problem.ErrTokenRevoked)
	}
	if got := d.Check(identity.New(identity.Identity{SessionID: "other"})); got != problem.ErrDenylistUnavailable {
		t.Errorf("Check(unknown) without Redis = %v; want %v", got, problem.ErrDenylistUnavailable)
	}
	if d.Ready() {
		t.Error("Ready() without Redis = true; want false")
	}
}

// TestRedisDenylistFault runs two instances (deny and allow) against a
// private redis-server through a gate, then pauses the server, kills it,
// and restarts it while the instances are still cut off.
func TestRedisDenylistFault(t *testing.T) {
	srv := testenv.StartRedisServer(t)
	g := testenv.NewGate(t, srv.Addr())
	prefix := testenv.RandomName("authgate_test_") + ":"
	deny := startRedisDenylist(t, "redis://"+g.Addr()+"/0", prefix, OnErrorDeny, time.Minute)
	allow := startRedisDenylist(t, "redis://"+g.Addr()+"/0", prefix, OnErrorAllow, time.Minute)
	testenv.WaitFor(t, "both instances ready", func() bool { return deny.Ready() && allow.Ready() })
	ctx := context.Background()

	live := identity.New(identity.Identity{UserID: "1", SessionID: "live"})
	known := identity.New(identity.Identity{UserID: "1", SessionID: "known"})
	if err := deny.Revoke(ctx, Revocation{SessionID: "known"}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the allow instance to learn the revocation", func() bool { return isRevoked(allow, known) })

	expectCutOff := func(t *testing.T) {
		t.Helper()
		if got := deny.Check(live); got != problem.ErrDenylistUnavailable {
			t.Errorf("deny instance: Check(unrevoked) = %v; want %v", got, problem.ErrDenylistUnavailable)
		}
		if got := allow.Check(live); got != nil {
			t.Errorf("allow instance: Check(unrevoked) = %v; want nil", got)
		}
		for name, d := range map[string]Denylist{"deny": deny, "allow": allow} {
			if got := d.Check(known); got != problem.ErrTokenRevoked {
				t.Errorf("%s instance: Check(known revoked) = %v; want %v", name, got, problem.ErrTokenRevoked)
			}
		}
	}

	t.Run("paused-server", func(t *testing.T) {
		// SIGSTOP keeps the TCP connections open and silent: only the
		// PING-based liveness check can notice.
		srv.Signal(syscall.SIGSTOP)
		took := testenv.WaitFor(t, "instances to stop trusting a silent redis", func() bool {
			return deny.Check(live) == problem.ErrDenylistUnavailable && !allow.Ready()
		})
		t.Logf("silent redis noticed after %v", took)
		expectCutOff(t)
		srv.Signal(syscall.SIGCONT)
		took = testenv.WaitFor(t, "instances to trust again", func() bool { return deny.Ready() && allow.Ready() })
		t.Logf("trusted again %v after SIGCONT", took)
	})

	t.Run("killed-and-restarted-server", func(t *testing.T) {
		srv.Kill()
		took := testenv.WaitFor(t, "instances to stop trusting a dead redis", func() bool {
			return deny.Check(live) == problem.ErrDenylistUnavailable && !allow.Ready()
		})
		t.Logf("dead redis noticed after %v", took)
		expectCutOff(t)
		if err := deny.Revoke(ctx, Revocation{SessionID: "during-outage"}); !errors.Is(err, problem.ErrDenylistUnavailable) {
			t.Errorf("Revoke while redis is dead = %v; want an error wrapping %v", err, problem.ErrDenylistUnavailable)
		}

		// Bring redis back, empty (no persistence), while both instances
		// stay cut off behind the gate; revoke there through a third
		// instance. Neither of the two can receive its message.
		g.SetClosed(true)
		srv.Start()
		other := NewRedisDenylist(newTestRedisClient(t, srv.URL()), prefix, OnErrorDeny, time.Minute, testenv.Logger(t))
		if err := other.Revoke(ctx, Revocation{SessionID: "while-cut-off"}); err != nil {
			t.Fatalf("Revoke on the restarted redis: %v", err)
		}
		g.SetClosed(false)
		took = testenv.WaitFor(t, "instances to trust again", func() bool { return deny.Ready() && allow.Ready() })
		t.Logf("trusted again %v after the gate opened", took)
		for name, d := range map[string]Denylist{"deny": deny, "allow": allow} {
			for _, sid := range []string{"while-cut-off", "known"} {
				if got := d.Check(identity.New(identity.Identity{UserID: "1", SessionID: sid})); got != problem.ErrTokenRevoked {
					t.Errorf("%s instance after recovery: Check(%s) = %v; want %v", name, sid, got, problem.ErrTokenRevoked)
				}
			}
			if got := d.Check(live); got != nil {
				t.Errorf("%s instance after recovery: Check(unrevoked) = %v; want nil", name, got)
			}
		}
		// The restarted redis lost "known"; the instances that remember it
		// write it back, so an instance started now learns it too.
		late := startRedisDenylist(t, srv.URL(), prefix, OnErrorDeny, time.Minute)
		testenv.WaitFor(t, "a new instance to learn the re-seeded revocation", func() bool {
			return late.Ready() && isRevoked(late, known)
		})
	})
}

func ExampleRedisDenylist() {
	client, err := NewRedisClient("redis://127.0.0.1:6379/0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	d := NewRedisDenylist(client, "authgate:", OnErrorDeny, 15*time.Minute, slog.Default())
	// In the server: go d.Run(ctx); /readyz reports d.Ready(); the
	// protected-route path calls d.Check(identity); logout calls d.Revoke.
	fmt.Println(d.Check(identity.New(identity.Identity{SessionID: "s"})))
	// Output: revocation list unavailable; failing closed
}

func TestRedisDenylistLoadSkipsMalformed(t *testing.T) {
	url, prefix := testRedis(t)
	c := newTestRedisClient(t, url)
	ctx := context.Background()
	exp := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	for key, val := range map[string]string{
		prefix + "deny:sid:good":  "1 " + exp,
		prefix + "deny:sid:bad":   "garbage",
		prefix + "deny:other:x":   "1 " + exp,
		prefix + "deny:user:42":   "1 " + exp,
		prefix + "denyx:sid:near": "1 " + exp, // not under deny:
	} {
		if err := c.Set(ctx, key, val, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	d := NewRedisDenylist(c, prefix, OnErrorDeny, time.Minute, testenv.Logger(t))
	got, err := d.load(ctx)
	if err != nil {
		t.Fatalf("load() error = %v", err)
	}
	var subjects []string
	for _, e := range got {
		subjects = append(subjects, e.kind+":"+e.subject)
	}
	slices.Sort(subjects)
	if want := []string{"session:good", "user:42"}; !slices.Equal(subjects, want) {
		t.Errorf("load() = %q; want %q", subjects, want)
	}
}
