//go:build race

package gateway

// raceDetector reports that the race detector is on: sync.Pool then drops
// items at random, so allocation counts of pooled paths mean nothing.
const raceDetector = true
