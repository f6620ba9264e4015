//go:build unix && !linux

package park

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// Supported: idle connections can be parked on this system.
const Supported = true

// watcher keeps parked connections, each watched by a goroutine of its
// own that waits in the runtime's poller, on a small stack and holding no
// buffer, for its socket to become readable. (Linux has one epoll
// instance for all of them instead: park_linux.go.)
type watcher struct {
	l      *Listener
	mu     sync.Mutex
	parked map[*parkConn]struct{}
	closed bool
}

func newWatcher(l *Listener) *watcher {
	return &watcher{l: l, parked: make(map[*parkConn]struct{})}
}

// add parks c until its next request arrives, its idle time is up (until;
// zero: never) or the listener closes.
func (w *watcher) add(c *parkConn, until time.Time) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		c.Conn.Close()
		return
	}
	w.parked[c] = struct{}{}
	w.mu.Unlock()
	go w.wait(c, until)
}

func (w *watcher) wait(c *parkConn, until time.Time) {
	c.tcp.SetReadDeadline(until)
	ready := waitReadable(c.tcp)
	w.mu.Lock()
	_, ours := w.parked[c] // false once close took it
	delete(w.parked, c)
	w.mu.Unlock()
	if !ready || !ours {
		c.Conn.Close()
		return
	}
	c.tcp.SetReadDeadline(time.Time{})
	w.l.resume(c)
}

func (w *watcher) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.parked)
}

// close closes every parked connection and parks no more.
func (w *watcher) close() {
	w.mu.Lock()
	w.closed = true
	parked := w.parked
	w.parked = nil
	w.mu.Unlock()
	for c := range parked {
		c.Conn.Close()
	}
}

// waitReadable blocks until c has bytes to read, without reading them,
// and reports whether it has; false means the peer hung up, the read
// deadline passed or c was closed.
func waitReadable(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var data bool
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			return false // wait for readability, then try again
		}
		data = err == nil && n > 0
		return true
	})
	return err == nil && data
}
