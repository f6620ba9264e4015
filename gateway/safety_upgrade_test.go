package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/tokens"
)

// TestWebSocketNeedsToken: a WebSocket handshake on a protected route is
// authenticated like any request — no token, no 101 and the backend never
// sees it — and one authenticated by the session cookie must come from our
// own origin (cross-site WebSocket hijacking: a cookie rides along on a
// handshake another site's script starts). With a bearer token, or the
// cookie from our origin, the upgrade goes through.
func TestWebSocketNeedsToken(t *testing.T) {
	var upgrades atomic.Int64
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not an upgrade", http.StatusBadRequest)
			return
		}
		upgrades.Add(1)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		brw.Flush()
	}))
	t.Cleanup(ws.Close)
	g := newTestGateway(t)
	cfg := g.write("routes:\n  - path: /\n    auth: required\n    upstream: " + ws.URL + "\n")
	token := mintToken(t, cfg, tokens.IssueInput{SessionID: "ws", Username: "kim"}, "9")
	g.run(cfg)
	origin := "https://" + g.httpsAddr()

	tests := []struct {
		name   string
		header string
		want   int
	}{
		{name: "fail-no-token", want: http.StatusUnauthorized},
		{name: "fail-cookie-from-another-origin", header: "Cookie: __Host-authgate=" + token + "\r\nOrigin: https://evil.example\r\n", want: http.StatusForbidden},
		{name: "fail-cookie-without-origin", header: "Cookie: __Host-authgate=" + token + "\r\n", want: http.StatusForbidden},
		{name: "fail-invalid-token", header: "Authorization: Bearer " + token[:len(token)-4] + "AAAA\r\n", want: http.StatusUnauthorized},
		{name: "ok-bearer", header: "Authorization: Bearer " + token + "\r\n", want: http.StatusSwitchingProtocols},
		{name: "ok-cookie-same-origin", header: "Cookie: __Host-authgate=" + token + "\r\nOrigin: " + origin + "\r\n", want: http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := upgrades.Load()
			c := g.dialTLS()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAccept: text/html\r\n%s\r\n", g.httpsAddr(), tt.header)
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("WebSocket handshake = %d; want %d", res.StatusCode, tt.want)
			}
			reached := upgrades.Load() > before
			if reached != (tt.want == http.StatusSwitchingProtocols) {
				t.Errorf("the backend saw the handshake: %t; want %t", reached, tt.want == http.StatusSwitchingProtocols)
			}
		})
	}
}
