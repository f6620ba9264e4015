package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// silentPostgres is a TCP server that speaks just enough of the PostgreSQL
// protocol (v3) to let a client connect — or not even that — and then
// never answers again: a hung server, as the network sees it.
type silentPostgres struct {
	ln        net.Listener
	handshake bool // complete the startup handshake before going silent

	mu    sync.Mutex
	conns []net.Conn
}

func startSilentPostgres(t *testing.T, handshake bool) *silentPostgres {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentPostgres{ln: ln, handshake: handshake}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	go s.serve()
	return s
}

func (s *silentPostgres) url() string {
	return "postgres://u@" + s.ln.Addr().String() + "/db?sslmode=disable"
}

func (s *silentPostgres) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		if s.handshake {
			go handshakeThenSilence(c)
		}
	}
}

// handshakeThenSilence reads the startup message, answers
// AuthenticationOk, BackendKeyData and ReadyForQuery, then reads whatever
// comes and answers nothing.
func handshakeThenSilence(c net.Conn) {
	r := bufio.NewReader(c)
	var n uint32
	if binary.Read(r, binary.BigEndian, &n) != nil || n < 8 {
		return
	}
	if _, err := io.CopyN(io.Discard, r, int64(n-4)); err != nil {
		return
	}
	msg := func(typ byte, body ...byte) []byte {
		out := []byte{typ, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(out[1:], uint32(4+len(body)))
		return append(out, body...)
	}
	var reply []byte
	reply = append(reply, msg('R', 0, 0, 0, 0)...)              // AuthenticationOk
	reply = append(reply, msg('K', 0, 0, 0, 42, 0, 0, 0, 7)...) // BackendKeyData
	reply = append(reply, msg('Z', 'I')...)                     // ReadyForQuery, idle
	if _, err := c.Write(reply); err != nil {
		return
	}
	io.Copy(io.Discard, r)
}

// TestPostgresSilentServer: against a PostgreSQL that accepts connections
// and then never answers, a call whose context ends returns — shortly
// after, with an error — instead of waiting for the server for ever
// (lib/pq alone would: it only asks the server to cancel). Both the
// connection handshake and a query on an established connection are cut
// off, and the connection is not reused.
func TestPostgresSilentServer(t *testing.T) {
	tests := []struct {
		name      string
		handshake bool
	}{
		{"fail-silent-at-connect", false},
		{"fail-silent-after-connect", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSilentPostgres(t, tt.handshake)
			db, err := openDB(srv.url())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				var one int
				done <- db.GetContext(ctx, &one, `SELECT 1`)
			}()
			select {
			case err := <-done:
				t.Logf("returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
				if err == nil {
					t.Fatal("a query against a silent server succeeded")
				}
				if !errors.Is(err, context.DeadlineExceeded) && !isStoreUnavailable(err) {
					t.Errorf("error %v is neither the deadline nor an unavailable store", err)
				}
			case <-time.After(8 * time.Second): // under connect_timeout (10 s): only the interrupt can end it
				t.Fatal("the query is still waiting for a silent server 8 s after its context ended")
			}
			if n := db.Stats().Idle; n != 0 {
				t.Errorf("%d idle connections kept after an interrupted call; want the interrupted one discarded", n)
			}
		})
	}
}

// TestPostgresConnectTimeoutDefault: a PostgreSQL URL without
// connect_timeout gets one, so a connection attempt without a context
// deadline cannot hang; one that sets it keeps its own.
func TestPostgresConnectTimeoutDefault(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ok-added", "postgres://u:p@db:5432/app?sslmode=disable", "postgres://u:p@db:5432/app?connect_timeout=10&sslmode=disable"},
		{"ok-added-no-query", "postgresql://db/app", "postgresql://db/app?connect_timeout=10"},
		{"ok-kept", "postgres://db/app?connect_timeout=3", "postgres://db/app?connect_timeout=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := withConnectTimeout(tt.in); got != tt.want {
				t.Errorf("withConnectTimeout(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}
