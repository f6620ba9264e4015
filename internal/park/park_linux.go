package park

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Supported: idle connections can be parked on this system.
const Supported = true

// watcher keeps parked connections in one epoll instance, watched by one
// goroutine: a parked connection costs its socket, its TLS state and a map
// entry — no goroutine, no stack, no buffer. The runtime's own poller
// keeps the socket registered too; the kernel allows a descriptor in
// several epoll sets, and Go's reads do not depend on a wake-up they did
// not wait for.
//
// A descriptor is removed from the set, under mu, before its connection is
// closed or handed back, so a number the kernel reuses for a new socket is
// never mistaken for a parked one.
type watcher struct {
	l    *Listener
	epfd int // -1 when epoll could not be set up: connections are closed instead of parked
	// scans counts the looks for expired connections, so that a test can
	// wait for one instead of sleeping past watchTick.
	scans atomic.Uint64

	mu     sync.Mutex
	parked map[int]parkedConn // by file descriptor
	closed bool
}

type parkedConn struct {
	c     *parkConn
	until time.Time // zero: no idle timeout
}

// watchTick is how often the watcher looks for parked connections whose
// idle timeout has passed, and so how late, at most, it closes them.
const watchTick = 500 * time.Millisecond

func newWatcher(l *Listener) *watcher {
	w := &watcher{l: l, parked: make(map[int]parkedConn)}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		l.logger.Warn("cannot park idle connections; they are closed at park_idle_after instead", "error", err.Error())
		w.epfd = -1
		return w
	}
	w.epfd = epfd
	go w.run()
	return w
}

// add parks c until its next request arrives, its idle time is up (until)
// or the listener closes.
func (w *watcher) add(c *parkConn, until time.Time) {
	fd := -1
	if rc, err := c.tcp.SyscallConn(); err == nil {
		rc.Control(func(f uintptr) { fd = int(f) })
	}
	w.mu.Lock()
	if w.closed || fd < 0 || w.epfd < 0 {
		w.mu.Unlock()
		c.Conn.Close()
		return
	}
	// Level-triggered and one-shot: bytes that arrived before the add are
	// reported at once, and a connection is reported once.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd)}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		w.mu.Unlock()
		c.Conn.Close()
		return
	}
	w.parked[fd] = parkedConn{c: c, until: until}
	w.mu.Unlock()
}

// take removes fd from the set and returns its connection; the caller
// holds mu.
func (w *watcher) take(fd int) (parkedConn, bool) {
	p, ok := w.parked[fd]
	if ok {
		delete(w.parked, fd)
		unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	return p, ok
}

func (w *watcher) run() {
	defer unix.Close(w.epfd) // only here: a closed number could be reused by another epoll set
	events := make([]unix.EpollEvent, 256)
	lastScan := time.Now()
	var ready, expired []*parkConn
	for {
		n, err := unix.EpollWait(w.epfd, events, int(watchTick/time.Millisecond))
		if err != nil && !errors.Is(err, unix.EINTR) {
			w.l.logger.Error("parked connections: epoll_wait failed; closing them", "error", err.Error())
			w.close()
			return
		}
		ready, expired = ready[:0], expired[:0]
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if p, ok := w.take(int(ev.Fd)); ok {
				ready = append(ready, p.c)
			}
		}
		if now := time.Now(); now.Sub(lastScan) >= watchTick {
			lastScan = now
			for fd, p := range w.parked {
				if !p.until.IsZero() && !now.Before(p.until) {
					w.take(fd)
					expired = append(expired, p.c)
				}
			}
			w.scans.Add(1)
		}
		w.mu.Unlock()
		for _, c := range ready {
			if hasData(c) {
				w.l.resume(c)
			} else {
				c.Conn.Close() // the client hung up
			}
		}
		for _, c := range expired {
			c.Conn.Close()
		}
	}
}

// hasData reports whether c's socket holds bytes to read, without reading
// them.
func hasData(c *parkConn) bool {
	rc, err := c.tcp.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	})
	return err == nil && n > 0
}

func (w *watcher) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.parked)
}

// close closes every parked connection and parks no more.
func (w *watcher) close() {
	w.mu.Lock()
	var conns []*parkConn
	if !w.closed {
		w.closed = true
		for fd := range w.parked {
			p, _ := w.take(fd)
			conns = append(conns, p.c)
		}
	}
	w.mu.Unlock()
	for _, c := range conns {
		c.Conn.Close()
	}
}
