package upstream

import (
	"math/rand/v2"

	"github.com/authgate/authgate/internal/problem"
)

// Random sends each request to a healthy target chosen uniformly at random.
// The zero value is ready to use.
type Random struct {
	intN func(n int) int // nil: math/rand/v2.IntN
}

var _ Balancer = (*Random)(nil)

// Pick returns a random healthy target.
func (b *Random) Pick(targets []*Target) (*Target, error) {
	h := countHealthy(targets)
	if h == 0 {
		return nil, problem.ErrNoHealthyTarget
	}
	intN := b.intN
	if intN == nil {
		intN = rand.IntN
	}
	return nthHealthy(targets, intN(h))
}
