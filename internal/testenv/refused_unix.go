//go:build unix

package testenv

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// RefusedAddr returns a loopback host:port that refuses connections for
// the whole test, for a test that needs "nothing listens there" (an
// upstream that is down, an unreachable Redis).
//
// The port is held by a TCP socket that is bound but never listens: the
// kernel answers a SYN to it with a reset (ECONNREFUSED), and no other
// socket can bind it — the holder does not set SO_REUSEADDR, so even a
// listener that does (as Go's do) is refused — until the test ends. A
// port that was merely free a moment ago could be taken by a server of
// another package's tests, running in parallel, and answer.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("RefusedAddr: socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("RefusedAddr: bind 127.0.0.1:0: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("RefusedAddr: getsockname: %v", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("RefusedAddr: getsockname returned %T", sa)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(in4.Port))
}
