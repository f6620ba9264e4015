package accounts

import (
	"context"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/problem"
)

// attemptGate bounds how many logins per throttle key are being verified
// at the same moment on this instance (and, with a gate of its own, how
// many registrations per address are being made).
//
// The throttle counts a failure only once the password has been checked,
// and checks the count before: without a bound on the attempts in between,
// a client sending a hundred guesses at once would have all of them
// checked before the first failure is counted, whatever login_limit says.
// With at most limit attempts in flight per key, a window admits at most
// limit failures plus limit in flight when the last is counted: fewer than
// twice login_limit per key and instance.
//
// Keys are taken in the order given (the throttle's: username, then
// address), always the same, so two attempts cannot wait on each other. An
// attempt that cannot get a slot before its context ends is refused as
// throttled.
type attemptGate struct {
	limit  int
	reason string // problem.ThrottledError.Reason of a refusal

	mu    sync.Mutex
	slots map[string]*attemptSlots
}

type attemptSlots struct {
	sem  chan struct{} // one token per attempt in flight
	refs int           // attempts holding or waiting for a token
}

// newAttemptGate allows limit attempts per key at once; a refused one is a
// *problem.ThrottledError with reason ("" for logins).
func newAttemptGate(limit int, reason string) *attemptGate {
	return &attemptGate{limit: max(limit, 1), reason: reason, slots: map[string]*attemptSlots{}}
}

// acquire takes a slot for every key and returns the function that gives
// them back.
func (g *attemptGate) acquire(ctx context.Context, keys ...string) (release func(), err error) {
	var held []string
	release = func() {
		for _, k := range held {
			g.put(k)
		}
	}
	for _, k := range keys {
		if err := g.take(ctx, k); err != nil {
			release()
			return nil, &problem.ThrottledError{RetryAfter: time.Second, Reason: g.reason}
		}
		held = append(held, k)
	}
	return release, nil
}

func (g *attemptGate) take(ctx context.Context, key string) error {
	g.mu.Lock()
	s := g.slots[key]
	if s == nil {
		s = &attemptSlots{sem: make(chan struct{}, g.limit)}
		g.slots[key] = s
	}
	s.refs++
	g.mu.Unlock()
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		g.unref(key, s)
		return ctx.Err()
	}
}

func (g *attemptGate) put(key string) {
	g.mu.Lock()
	s := g.slots[key]
	g.mu.Unlock()
	<-s.sem
	g.unref(key, s)
}

// unref forgets a key's slots once nobody holds or waits for them, so the
// map holds only keys with attempts in flight.
func (g *attemptGate) unref(key string, s *attemptSlots) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.refs--; s.refs == 0 {
		delete(g.slots, key)
	}
}
