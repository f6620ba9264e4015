package accounts

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/authgate/authgate/internal/problem"
)

// hashSlots bounds how many password hashes and verifications run at once
// in the process: registration, login (the unknown-user dummy included),
// a password change and the upgrade of an old hash at login all take a
// slot for their bcrypt.
//
// A bcrypt at cost 12 is about a quarter of a second of one core, and
// anyone can ask for one (a login with a wrong password, a registration).
// Without a bound, a flood of them takes every core and starves what
// must not wait: proxying, token checks, the denylist's subscription. With
// it, hashing uses at most half the cores and the rest queue, each for as
// long as its request's deadline (database.timeout) allows, then answer
// 503 (problem.ErrOverloaded).
type hashSlots struct {
	sem chan struct{}
	// waiting counts callers queued for a slot, so that a test can tell
	// when a flood has reached the bound.
	waiting atomic.Int64
}

// newHashSlots returns a bound of n concurrent hashes; n < 1 means the
// default, defaultHashSlots.
func newHashSlots(n int) *hashSlots {
	if n < 1 {
		n = defaultHashSlots()
	}
	return &hashSlots{sem: make(chan struct{}, n)}
}

// defaultHashSlots is half the cores the Go scheduler uses (GOMAXPROCS,
// which follows the container's CPU limit), at least one: the other half
// stays free for the proxy.
func defaultHashSlots() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// acquire waits for a slot until ctx ends and returns the function that
// gives it back. A nil *hashSlots is no bound.
func (h *hashSlots) acquire(ctx context.Context) (release func(), err error) {
	if h == nil {
		return func() {}, nil
	}
	select {
	case h.sem <- struct{}{}:
		return h.release, nil
	default:
	}
	h.waiting.Add(1)
	defer h.waiting.Add(-1)
	select {
	case h.sem <- struct{}{}:
		return h.release, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", problem.ErrOverloaded, context.Cause(ctx))
	}
}

func (h *hashSlots) release() { <-h.sem }
