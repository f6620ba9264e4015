package accounts

import (
	"context"
	"sync"
	"time"
)

// ThrottleMemory is the per-process login throttle, used without Redis. It
// holds at most maxKeys counters; when full, the counter whose window
// closes soonest is dropped first, so a flood of fresh keys (a spray over
// many usernames) costs bounded memory.
type ThrottleMemory struct {
	limit   int
	per     time.Duration
	maxKeys int
	now     func() time.Time // the clock; tests set it

	mu     sync.Mutex
	counts map[string]memCount // hashed key → counter
	// order lists counters by the end of their window. Every window has the
	// same length and opens when it is created, so creation order is
	// expiry order and a FIFO suffices. Items whose counter was reset or
	// renewed since are stale and skipped.
	order []queuedCount
	head  int
}

type memCount struct {
	n     int
	until time.Time // end of the window
}

type queuedCount struct {
	key   string
	until time.Time
}

// DefaultThrottleKeys bounds ThrottleMemory when maxKeys is 0.
const DefaultThrottleKeys = 100_000

// NewThrottleMemory returns a throttle allowing limit failures
// (auth_api.login_limit or register_limit, e.g. "5/min") per key per window, holding at most
// maxKeys counters (0 = DefaultThrottleKeys).
func NewThrottleMemory(limit string, maxKeys int) (*ThrottleMemory, error) {
	n, per, err := ParseRate(limit)
	if err != nil {
		return nil, err
	}
	if maxKeys <= 0 {
		maxKeys = DefaultThrottleKeys
	}
	return &ThrottleMemory{
		limit:   n,
		per:     per,
		maxKeys: maxKeys,
		now:     time.Now,
		counts:  make(map[string]memCount),
	}, nil
}

// Check implements Throttle.
func (t *ThrottleMemory) Check(_ context.Context, keys ...string) (time.Duration, error) {
	now := t.now()
	var wait time.Duration
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		c, ok := t.counts[throttleHash(k)]
		if ok && c.n >= t.limit && now.Before(c.until) {
			wait = max(wait, c.until.Sub(now))
		}
	}
	return wait, nil
}

// Fail implements Throttle.
func (t *ThrottleMemory) Fail(_ context.Context, keys ...string) error {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	for _, k := range keys {
		h := throttleHash(k)
		if c, ok := t.counts[h]; ok && now.Before(c.until) {
			c.n++
			t.counts[h] = c
			continue
		}
		for len(t.counts) >= t.maxKeys && t.dropOldest() {
		}
		c := memCount{n: 1, until: now.Add(t.per)}
		t.counts[h] = c
		t.order = append(t.order, queuedCount{key: h, until: c.until})
	}
	t.compact()
	return nil
}

// Reset implements Throttle.
func (t *ThrottleMemory) Reset(_ context.Context, keys ...string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		delete(t.counts, throttleHash(k))
	}
	return nil
}

// Len is the number of counters held.
func (t *ThrottleMemory) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.counts)
}

// dropExpired removes counters whose window has closed.
func (t *ThrottleMemory) dropExpired(now time.Time) {
	for t.head < len(t.order) && !now.Before(t.order[t.head].until) {
		t.pop()
	}
}

// dropOldest removes the live counter whose window closes first; it
// reports false when there is none.
func (t *ThrottleMemory) dropOldest() bool {
	for t.head < len(t.order) {
		if t.pop() {
			return true
		}
	}
	return false
}

// pop removes the head of order, and its counter if the item is current.
func (t *ThrottleMemory) pop() (removed bool) {
	q := t.order[t.head]
	t.order[t.head] = queuedCount{}
	t.head++
	if c, ok := t.counts[q.key]; ok && c.until.Equal(q.until) {
		delete(t.counts, q.key)
		return true
	}
	return false
}

// compact reclaims the consumed head of order and, if stale items pile up
// (many resets), drops them, keeping order's length within twice the
// number of counters.
func (t *ThrottleMemory) compact() {
	live := len(t.order) - t.head
	if t.head > 64 && t.head > live {
		t.order = append(t.order[:0], t.order[t.head:]...)
		t.head = 0
	}
	if live > 64 && live > 2*len(t.counts) {
		kept := t.order[:0]
		for _, q := range t.order[t.head:] {
			if c, ok := t.counts[q.key]; ok && c.until.Equal(q.until) {
				kept = append(kept, q)
			}
		}
		clear(t.order[len(kept):])
		t.order, t.head = kept, 0
	}
}
