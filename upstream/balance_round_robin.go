package upstream

import (
	"sync/atomic"

	"github.com/authgate/authgate/internal/problem"
)

// RoundRobin hands requests to the healthy targets in turn. It counts over
// the healthy targets only, so that while one target is out the others
// share its load evenly instead of its successor taking all of it. The zero
// value is ready to use.
type RoundRobin struct {
	next atomic.Uint64
}

var _ Balancer = (*RoundRobin)(nil)

// Pick returns the next healthy target in turn.
func (b *RoundRobin) Pick(targets []*Target) (*Target, error) {
	h := countHealthy(targets)
	if h == 0 {
		return nil, problem.ErrNoHealthyTarget
	}
	n := b.next.Add(1) - 1
	return nthHealthy(targets, int(n%uint64(h)))
}
