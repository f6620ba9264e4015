package testenv

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Gate is a TCP forwarder in front of a server. Closed, it cuts every
// connection through it and refuses new ones until it is opened again: an
// instance behind a closed gate is cut off while others still reach the
// server directly. Its own port is bound once, for the whole test, so it
// stays the same while the server behind it restarts.
type Gate struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// NewGate opens a gate to target — host:port, or the path of a Unix
// socket (RedisServer.Addr) — on a loopback port of its own (bound to :0),
// closed when the test ends.
func NewGate(t testing.TB, target string) *Gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	go g.serve()
	t.Cleanup(func() {
		ln.Close()
		g.SetClosed(true)
	})
	return g
}

// Addr is the gate's host:port.
func (g *Gate) Addr() string { return g.ln.Addr().String() }

func (g *Gate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		go g.forward(c)
	}
}

func (g *Gate) forward(c net.Conn) {
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		c.Close()
		return
	}
	network := "tcp"
	if strings.HasPrefix(g.target, "/") {
		network = "unix"
	}
	up, err := net.DialTimeout(network, g.target, time.Second)
	if err != nil {
		// The server is down: reset the connection, as close as a
		// forwarder can come to the refusal a client would meet without
		// it.
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	g.conns[c], g.conns[up] = struct{}{}, struct{}{}
	g.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) { io.Copy(dst, src); done <- struct{}{} }
	go pipe(up, c)
	go pipe(c, up)
	<-done
	c.Close()
	up.Close()
	g.mu.Lock()
	delete(g.conns, c)
	delete(g.conns, up)
	g.mu.Unlock()
}

// SetClosed closes (cutting every connection) or reopens the gate.
func (g *Gate) SetClosed(closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = closed
	if closed {
		for c := range g.conns {
			c.Close()
		}
	}
}
