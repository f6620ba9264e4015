// Package archtest holds no code: its test asserts authgate's import
// rules — the layer order of the README's code map (no package imports
// one on its own line or above it; identity imports nothing of authgate's)
// and that the proxy's dependencies hold no database driver, Redis client
// or JWT library. A new package gets a line in its table and in the code
// map.
//
// It must never be imported: it has nothing to offer.
package archtest
