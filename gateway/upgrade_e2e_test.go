package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"

	"github.com/authgate/authgate/tokens"
)

// tunnelBackend is an application that switches protocols whenever it is
// asked to: to HTTP/2 for "Upgrade: h2c" (golang.org/x/net/http2/h2c),
// and for any other protocol it answers 101 and then speaks HTTP/2 too —
// a stand-in for whatever the protocol would carry. Like Hypercorn, which
// the review used, it does not insist that HTTP2-Settings is listed in
// Connection (a proxy keeps only "Connection: Upgrade"). It remembers
// every request it serves, tunnelled ones included, with the identity
// headers they carried.
type tunnelBackend struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newTunnelBackend(t *testing.T) *tunnelBackend {
	t.Helper()
	b := &tunnelBackend{}
	record := func(r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, fmt.Sprintf("%s %s %s upgrade=%q x-auth-user=%q x-auth-roles=%q",
			r.Method, r.URL.Path, r.Proto, r.Header.Get("Upgrade"), r.Header.Get("X-Auth-User"), r.Header.Get("X-Auth-Roles")))
		b.mu.Unlock()
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		io.WriteString(w, "app")
	})
	h2s := &http2.Server{}
	withH2C := h2c.NewHandler(app, h2s)
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := r.Header.Get("Upgrade")
		switch {
		case up == "":
			app.ServeHTTP(w, r)
		case headerHasToken(r.Header, "Upgrade", "h2c"):
			r.Header.Add("Connection", "HTTP2-Settings")
			withH2C.ServeHTTP(w, r)
		default:
			record(r) // the handshake itself
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", up)
			brw.Flush()
			h2s.ServeConn(conn, &http2.ServeConnOpts{Handler: app})
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *tunnelBackend) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// http2Settings is an HTTP2-Settings header value (RFC 9113 §3.2.1 of the
// obsoleted RFC 7540): three settings, as curl --http2 sends them.
const http2Settings = "AAMAAABkAAQCAAAAAAIAAAAA"

// upgradeAttempts are handshakes authgate must refuse on every route that
// does not opt in: only "websocket" may be asked for.
var upgradeAttempts = []struct{ name, header string }{
	{"fail-h2c", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " + http2Settings + "\r\n"},
	{"fail-h2c-settings-not-hop-by-hop", "Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: " + http2Settings + "\r\n"},
	{"fail-h2c-upper-case", "Connection: upgrade\r\nUpgrade: H2C\r\nHTTP2-Settings: " + http2Settings + "\r\n"},
	{"fail-unknown-protocol", "Connection: Upgrade\r\nUpgrade: x-tunnel/1\r\n"},
	{"fail-websocket-and-h2c", "Connection: Upgrade\r\nUpgrade: websocket, h2c\r\nHTTP2-Settings: " + http2Settings + "\r\n"},
	{"fail-websocket-then-h2c-fields", "Connection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\nHTTP2-Settings: " + http2Settings + "\r\n"},
	{"fail-websocket-versioned", "Connection: Upgrade\r\nUpgrade: websocket/13\r\n"},
	{"fail-upgrade-without-connection", "Upgrade: h2c\r\nHTTP2-Settings: " + http2Settings + "\r\n"},
}

// TestUpgradeOnlyWebSocket is the h2c tunnel of the security review: a
// "GET" with "Upgrade: h2c" was answered 101 by an h2c-capable backend,
// and authgate spliced the bytes, so the client spoke HTTP/2 to the
// backend — any path, forged X-Auth-User — past every check, with only
// the handshake logged. Now every protocol but websocket is refused with
// a 400, on public and protected routes alike, before the request goes
// anywhere: no 101, and the backend hears nothing at all.
func TestUpgradeOnlyWebSocket(t *testing.T) {
	b := newTunnelBackend(t)
	g := newTestGateway(t)
	cfg := g.write(fmt.Sprintf(`routes:
  - name: hc
    path: /hc
    auth: public
    upstream: %[1]s
  - name: app
    path: /app
    auth: required
    upstream: %[1]s
`, b.URL))
	token := mintToken(t, cfg, tokens.IssueInput{SessionID: "up", Username: "kim"}, "7")
	g.run(cfg)

	for _, route := range []struct{ name, path, auth string }{
		{"public", "/hc/", ""},
		{"protected", "/app/", "Authorization: Bearer " + token + "\r\n"},
	} {
		for _, tt := range upgradeAttempts {
			t.Run(route.name+"/"+tt.name, func(t *testing.T) {
				before := len(b.requests())
				c := g.dialTLS()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n", route.path, g.httpsAddr(), route.auth, tt.header)
				br := bufio.NewReader(c)
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("reading the answer to the handshake: %v", err)
				}
				if res.StatusCode == http.StatusSwitchingProtocols {
					// The tunnel is open: show what it lets through.
					tunnelRequest(t, c, br)
					t.Errorf("handshake answered 101 Upgrade: %q; want 400", res.Header.Get("Upgrade"))
				} else {
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" {
						t.Errorf("handshake = %d %s %s; want a 400 problem", res.StatusCode, res.Header.Get("Content-Type"), body)
					}
				}
				if got := b.requests()[before:]; len(got) != 0 {
					t.Errorf("the backend served %d requests; want none:\n%s", len(got), strings.Join(got, "\n"))
				}
			})
		}
	}
	t.Run("ok-plain-request-still-served", func(t *testing.T) {
		res, body := g.raw("GET /hc/ HTTP/1.1\r\nHost: " + g.httpsAddr() + "\r\n\r\n")
		if res.StatusCode != http.StatusOK || body != "app" {
			t.Errorf("GET /hc/ = %d %q; want 200 from the backend", res.StatusCode, body)
		}
	})
}

// tunnelRequest speaks HTTP/2 through a connection that was switched
// (h2c, or any protocol the tunnel backend accepts): the client preface,
// then a GET of /admin with forged identity headers on stream 3, and
// waits for its answer, so that the backend's record shows what a
// tunnel lets through.
func tunnelRequest(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Errorf("writing the client preface: %v", err)
		return
	}
	fr := http2.NewFramer(c, br)
	fr.WriteSettings()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "backend"},
		{Name: ":path", Value: "/admin"}, {Name: "x-auth-user", Value: "mallory"}, {Name: "x-auth-roles", Value: "admin"},
	} {
		enc.WriteField(f)
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if f.StreamID == 3 {
				return
			}
		}
	}
}

// TestUpgradeOptIn: a route that lists protocols under upgrades lets
// exactly those through — h2c here, to a backend that authenticates what
// it tunnels itself — and no others, websocket included when it is not
// listed.
func TestUpgradeOptIn(t *testing.T) {
	b := newTunnelBackend(t)
	g := newTestGateway(t)
	g.start(fmt.Sprintf(`routes:
  - name: grpc-legacy
    path: /tunnel
    auth: public
    upgrades: [H2C]
    upstream: %[1]s
  - name: both
    path: /both
    auth: public
    upgrades: [websocket, x-tunnel/1]
    upstream: %[1]s
`, b.URL))

	tests := []struct {
		name, path, header string
		want               int
	}{
		{"ok-h2c-listed", "/tunnel/", "Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: " + http2Settings + "\r\n", http.StatusSwitchingProtocols},
		{"fail-websocket-not-listed", "/tunnel/", "Connection: Upgrade\r\nUpgrade: websocket\r\n", http.StatusBadRequest},
		{"ok-other-listed", "/both/", "Connection: Upgrade\r\nUpgrade: X-Tunnel/1\r\n", http.StatusSwitchingProtocols},
		{"fail-two-listed-at-once", "/both/", "Connection: Upgrade\r\nUpgrade: websocket, x-tunnel/1\r\n", http.StatusBadRequest},
		{"fail-h2c-not-listed", "/both/", "Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: " + http2Settings + "\r\n", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(b.requests())
			c := g.dialTLS()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", tt.path, g.httpsAddr(), tt.header)
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the answer to the handshake: %v", err)
			}
			if res.StatusCode != tt.want {
				t.Fatalf("handshake = %d; want %d", res.StatusCode, tt.want)
			}
			if tt.want != http.StatusSwitchingProtocols {
				if got := b.requests()[before:]; len(got) != 0 {
					t.Errorf("the backend served %d requests; want none:\n%s", len(got), strings.Join(got, "\n"))
				}
				return
			}
			// What the route opted into: a tunnel the gateway only copies.
			tunnelRequest(t, c, br)
			if got := b.requests()[before:]; len(got) != 2 || !strings.HasPrefix(got[1], "GET /admin HTTP/2.0") {
				t.Errorf("through the tunnel the backend served %q; want the handshake and GET /admin", got)
			}
		})
	}
}
