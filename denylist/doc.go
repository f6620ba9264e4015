// Package denylist is the revocation list: which sessions and which users'
// tokens issued before a cut-off are no longer accepted. It holds the
// in-memory mirror every protected request checks (no I/O, no allocation),
// the two stores that feed it — Redis (with its pub/sub fan-out) and the
// database (polled) — and the Redis client they and the login throttle
// share. It owns the redis section of config.yaml (Config).
//
// It imports identity, internal/conf, internal/problem, store and go-redis,
// and must never import tokens, the account store or the HTTP layers: the
// hot path asks it one question about an identity, nothing more.
package denylist
