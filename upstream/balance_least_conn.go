package upstream

import (
	"math/rand/v2"

	"github.com/authgate/authgate/internal/problem"
)

// LeastConn sends a request to the healthy target with the fewest requests
// in flight, breaking ties at random so that idle targets share the load.
// The zero value is ready to use.
type LeastConn struct {
	intN func(n int) int // randomness for ties; nil: math/rand/v2.IntN
}

var _ Balancer = (*LeastConn)(nil)

// Pick returns a least-loaded healthy target.
func (b *LeastConn) Pick(targets []*Target) (*Target, error) {
	intN := b.intN
	if intN == nil {
		intN = rand.IntN
	}
	var best *Target
	var least int64
	ties := 0
	for _, t := range targets {
		if !t.Healthy() {
			continue
		}
		n := t.InFlight()
		switch {
		case best == nil || n < least:
			best, least, ties = t, n, 1
		case n == least:
			// Reservoir sampling: each of the tied targets ends up
			// chosen with probability 1/ties.
			ties++
			if intN(ties) == 0 {
				best = t
			}
		}
	}
	if best == nil {
		return nil, problem.ErrNoHealthyTarget
	}
	return best, nil
}
