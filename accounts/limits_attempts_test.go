package accounts

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/problem"
)

// TestAttemptGate: at most limit attempts per key hold a slot at once; a
// waiter whose context ends is refused as throttled and leaves nothing
// behind; once every slot is given back the gate holds no key.
func TestAttemptGate(t *testing.T) {
	const limit = 3
	g := newAttemptGate(limit, "")
	var inFlight, peak atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			release, err := g.acquire(context.Background(), "user:a", "ip:1")
			if err != nil {
				t.Errorf("acquire: %v", err)
				return
			}
			n := inFlight.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			inFlight.Add(-1)
			release()
		})
	}
	wg.Wait()
	if p := peak.Load(); p > limit || p < 1 {
		t.Errorf("peak attempts in flight for one key = %d; want 1 to %d", p, limit)
	}

	// Fill the address's slots; a waiter with a deadline gives up.
	var held []func()
	for range limit {
		release, err := g.acquire(context.Background(), "ip:2")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := g.acquire(ctx, "user:b", "ip:2")
	var te *problem.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Errorf("acquire with every slot taken = %v; want a *problem.ThrottledError with a Retry-After", err)
	}
	for _, release := range held {
		release()
	}
	if n := len(g.slots); n != 0 {
		t.Errorf("the gate still holds %d keys after every slot was given back", n)
	}
}

// TestLoginFloodIsBounded: concurrent wrong-password logins for one user
// get fewer than twice login_limit password checks; the rest are
// throttled. Without attemptGate every one of them would be checked.
func TestLoginFloodIsBounded(t *testing.T) {
	s := sqliteService(t, nil)
	ctx := context.Background()
	if _, err := s.Register(ctx, "grace", "grace@example.com", "flood-resistant-passphrase-2", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	const n = 30
	var checked, throttled atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.Login(ctx, "grace", "wrong-passphrase", "192.0.2.1")
			var te *problem.ThrottledError
			switch {
			case errors.Is(err, problem.ErrInvalidCredentials):
				checked.Add(1)
			case errors.As(err, &te):
				throttled.Add(1)
			default:
				t.Errorf("Login = %v; want problem.ErrInvalidCredentials or throttled", err)
			}
		})
	}
	wg.Wait()
	t.Logf("%d concurrent wrong logins: %d checked, %d throttled", n, checked.Load(), throttled.Load())
	if c := checked.Load(); c > 2*5-1 {
		t.Errorf("%d of %d concurrent wrong logins had their password checked; want at most %d", c, n, 2*5-1)
	}
}
