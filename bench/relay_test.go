package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// relay is a TCP proxy between the gateway and PostgreSQL or Redis that
// counts what the gateway asks for: PostgreSQL protocol messages by type,
// Redis commands by name. It sees only the gateway's own connections, so
// the counts are exact even on a server other tests are using, and they
// are counted as the bytes pass, with no statistics collector to lag.
type relay struct {
	addr string // where the gateway connects

	mu     sync.Mutex
	counts map[string]int
}

// newRelay listens on loopback and forwards every connection to target,
// passing what the client sends through parse, which calls count once per
// message or command. It stops when the test ends.
func newRelay(tb testing.TB, target string, parse func(r *bufio.Reader, count func(string)) error) *relay {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &relay{addr: ln.Addr().String(), counts: map[string]int{}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c ...net.Conn) {
		mu.Lock()
		conns = append(conns, c...)
		mu.Unlock()
	}
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			track(client, server)
			wg.Go(func() {
				io.Copy(client, server)
				client.Close()
			})
			wg.Go(func() {
				// Everything read from the client is written to the server
				// as it is read; the parser only looks at it.
				br := bufio.NewReader(io.TeeReader(client, server))
				if err := parse(br, r.count); errors.Is(err, errMalformed) {
					tb.Errorf("relay to %s: %v", target, err)
				}
				io.Copy(io.Discard, br) // keep forwarding whatever follows
				server.Close()
			})
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return r
}

// errMalformed marks what the parsers could not read; I/O errors (a
// connection closed at either end) just end the parsing.
var errMalformed = errors.New("malformed")

func (r *relay) count(what string) {
	r.mu.Lock()
	r.counts[what]++
	r.mu.Unlock()
}

// snapshot returns a copy of the counts so far.
func (r *relay) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// diff returns b minus a, leaving out what did not change.
func diff(a, b map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range b {
		if d := v - a[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// sum adds up the counts, except the names in except.
func sum(m map[string]int, except ...string) int {
	n := 0
	for k, v := range m {
		if !contains(except, k) {
			n += v
		}
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parsePostgres reads the frontend side of the PostgreSQL protocol: a
// startup message (after an optional SSLRequest or GSSENCRequest, which
// the server refuses with sslmode=disable), then typed messages, counted
// by their type byte ("Q" a simple query, "P"/"B"/"E" parse, bind and
// execute, "S" the Sync that ends each extended-protocol round trip).
func parsePostgres(r *bufio.Reader, count func(string)) error {
	for {
		var head [8]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(head[:4])
		code := binary.BigEndian.Uint32(head[4:])
		if n == 8 && (code == 80877103 || code == 80877104) {
			continue // SSLRequest, GSSENCRequest: the startup message follows
		}
		if n < 8 {
			return fmt.Errorf("%w: postgres startup message of length %d", errMalformed, n)
		}
		if _, err := r.Discard(int(n) - 8); err != nil {
			return err
		}
		count("startup")
		break
	}
	for {
		typ, err := r.ReadByte()
		if err != nil {
			return err
		}
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(l[:])
		if n < 4 {
			return fmt.Errorf("%w: postgres message %q of length %d", errMalformed, typ, n)
		}
		if _, err := r.Discard(int(n) - 4); err != nil {
			return err
		}
		count(string(typ))
	}
}

// parseRedis reads RESP commands (arrays of bulk strings, as every client
// library sends them) and counts them by lower-case name.
func parseRedis(r *bufio.Reader, count func(string)) error {
	line := func() (string, error) {
		s, err := r.ReadString('\n')
		return strings.TrimSuffix(s, "\r\n"), err
	}
	for {
		head, err := line()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(head, "*") {
			return fmt.Errorf("%w: redis: %q is not a RESP array (inline commands are not expected)", errMalformed, head)
		}
		n, err := strconv.Atoi(head[1:])
		if err != nil {
			return fmt.Errorf("%w: redis array header %q", errMalformed, head)
		}
		var name string
		for i := 0; i < n; i++ {
			h, err := line()
			if err != nil {
				return err
			}
			size, err := strconv.Atoi(strings.TrimPrefix(h, "$"))
			if err != nil || !strings.HasPrefix(h, "$") {
				return fmt.Errorf("%w: redis bulk string header %q", errMalformed, h)
			}
			buf := make([]byte, size+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return err
			}
			if i == 0 {
				name = strings.ToLower(string(buf[:size]))
			}
		}
		count(name)
	}
}
