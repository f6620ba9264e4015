//go:build !unix

package testenv

import "testing"

// RefusedAddr needs a socket that is bound without listening (see
// refused_unix.go), which this system's syscall package does not offer:
// the tests that need an address nobody answers on are skipped here.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	t.Skip("RefusedAddr: no bound-but-not-listening socket on this system")
	return ""
}
