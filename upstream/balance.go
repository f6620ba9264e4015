package upstream

import (
	"fmt"

	"github.com/authgate/authgate/internal/problem"
)

// Balancer picks the target for the next request among a pool's targets.
// It must skip targets that are not Healthy and return problem.ErrNoHealthyTarget
// when none is. Pick is called concurrently.
type Balancer interface {
	Pick(targets []*Target) (*Target, error)
}

// newBalancer resolves a pool's balance setting (validated) once, at
// construction.
func newBalancer(name string) (Balancer, error) {
	switch name {
	case "round_robin":
		return &RoundRobin{}, nil
	case "least_conn":
		return &LeastConn{}, nil
	case "random":
		return &Random{}, nil
	}
	return nil, fmt.Errorf("unknown balance %q: must be one of round_robin, least_conn, random", name)
}

// countHealthy reports how many of targets may take traffic now.
func countHealthy(targets []*Target) int {
	n := 0
	for _, t := range targets {
		if t.Healthy() {
			n++
		}
	}
	return n
}

// nthHealthy returns the k-th healthy target (0-based). Health can change
// between counting and picking; then it settles for any healthy target.
func nthHealthy(targets []*Target, k int) (*Target, error) {
	var first *Target
	for _, t := range targets {
		if !t.Healthy() {
			continue
		}
		if k == 0 {
			return t, nil
		}
		k--
		if first == nil {
			first = t
		}
	}
	if first == nil {
		return nil, problem.ErrNoHealthyTarget
	}
	return first, nil
}
