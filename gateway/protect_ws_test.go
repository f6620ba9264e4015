package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// TestProtectWebSocket: a WebSocket upgrade on a protected route is
// authenticated like any request — no token, no 101, and the backend never
// hears of it — and an upgrade authenticated by the session cookie must
// come from our own origin, or any site's script could open a socket as
// the user (cross-site WebSocket hijacking). A bearer token cannot be
// attached by a foreign page, so it needs no Origin check.
func TestProtectWebSocket(t *testing.T) {
	b := pStartBackend(t)
	routes := fmt.Sprintf(`  - name: ws
    path: /ws
    auth: required
    upstream: %s
`, b.URL())
	gw, cfgFile := pConfig(t, routes, "")
	g := pStartGateway(t, gw, cfgFile)
	alice := g.register(t, "alice")
	tok := g.login(t, alice).AccessToken
	ours := "https://" + g.host

	tests := []struct {
		name     string
		hdr      string // extra request header lines
		wantCode int
	}{
		{"fail-no-token", "", 401},
		{"fail-tampered-token", "Authorization: Bearer " + pTamper(tok) + "\r\n", 401},
		{"ok-bearer", "Authorization: Bearer " + tok + "\r\n", 101},
		{"ok-bearer-foreign-origin", "Authorization: Bearer " + tok + "\r\nOrigin: https://evil.example\r\n", 101},
		{"fail-cookie-foreign-origin", "Cookie: __Host-authgate=" + tok + "\r\nOrigin: https://evil.example\r\n", 403},
		{"fail-cookie-null-origin", "Cookie: __Host-authgate=" + tok + "\r\nOrigin: null\r\n", 403},
		{"fail-cookie-sibling-origin", "Cookie: __Host-authgate=" + tok + "\r\nOrigin: https://evil." + g.host + "\r\n", 403},
		{"fail-cookie-origin-other-port", "Cookie: __Host-authgate=" + tok + "\r\nOrigin: https://localhost:1\r\n", 403},
		{"fail-cookie-no-origin", "Cookie: __Host-authgate=" + tok + "\r\n", 403},
		{"ok-cookie-our-origin", "Cookie: __Host-authgate=" + tok + "; app=1\r\nOrigin: " + ours + "\r\n", 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const key = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 §1.3's example
			conn := g.dialTLS(t)
			defer conn.Close()
			before := b.count()
			fmt.Fprintf(conn, "GET /ws/chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n", g.host, key, tt.hdr)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the handshake response: %v", err)
			}
			if resp.StatusCode != tt.wantCode {
				body, _ := io.ReadAll(resp.Body)
				t.Fatalf("upgrade = %d %s; want %d", resp.StatusCode, body, tt.wantCode)
			}
			if tt.wantCode != http.StatusSwitchingProtocols {
				resp.Body.Close()
				if n := b.count() - before; n != 0 {
					t.Errorf("backend received %d requests; want none", n)
				}
				return
			}
			if got, want := resp.Header.Get("Sec-WebSocket-Accept"), pWebSocketAccept(key); got != want {
				t.Errorf("Sec-WebSocket-Accept = %q; want %q", got, want)
			}
			seen := b.last(t, before)
			if got := seen.Header.Get("X-Auth-User"); got != "alice" {
				t.Errorf("backend got X-Auth-User %q; want alice", got)
			}
			if seen.Header.Get("Authorization") != "" {
				t.Error("backend got the Authorization header")
			}
			for _, c := range seen.Cookies {
				if c.Name == "__Host-authgate" {
					t.Error("backend got the session cookie")
				}
			}

			if _, err := conn.Write(pFrame(0x1, []byte("hello through the gateway"), true)); err != nil {
				t.Fatal(err)
			}
			op, payload, err := pReadFrame(br)
			if err != nil {
				t.Fatalf("reading the echoed frame: %v", err)
			}
			if op != 0x1 || string(payload) != "hello through the gateway" {
				t.Errorf("echoed frame = op %d %q; want text %q", op, payload, "hello through the gateway")
			}
		})
	}
}
