package testenv

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock is a clock a test sets and moves: code under test reads Now (as
// its now func) and sees only what the test made of it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// OffsetClock runs with the real clock, moved forward by Advance: for
// code that also compares against times it takes from elsewhere (a
// database's, a token's).
type OffsetClock struct{ offset atomic.Int64 }

// Now is the real time plus every Advance so far.
func (c *OffsetClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *OffsetClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
