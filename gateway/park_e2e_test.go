//go:build unix

package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/tokens"
)

// parkedGauge reads authgate_parked_connections from the ops listener.
func parkedGauge(t *testing.T, g *testGateway) int {
	t.Helper()
	for _, line := range metricLines(t, g) {
		if v, ok := strings.CutPrefix(line, "authgate_parked_connections "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("authgate_parked_connections %q: %v", v, err)
			}
			return int(n)
		}
	}
	t.Fatal("/metrics has no authgate_parked_connections")
	return 0
}

// TestParkedConnectionsEndToEnd keeps one HTTP/1.1 client connection to
// a running gateway over TLS, lets it park between requests, and checks
// that every request on it — protected, with forged identity headers —
// is answered as on a fresh connection: the backend sees the gateway's
// identity headers and nothing the client forged, and the client never
// opens a second connection.
func TestParkedConnectionsEndToEnd(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	cfgFile := g.write(headersConfig(b, "") + "limits:\n  park_idle_after: 100ms\n")
	g.run(cfgFile)
	token := mintToken(t, cfgFile, tokens.IssueInput{
		SessionID: "sid-park", Username: "alice", Email: "alice@example.com", Roles: []string{"dev"},
	}, "42")

	c := g.client(false)
	conns := 0
	for i := range 4 {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if !info.Reused {
					conns++
				}
			},
		})
		req, _ := http.NewRequestWithContext(ctx, "GET", g.url(fmt.Sprintf("/private/%d", i)), nil)
		req.Header = forgedHeaders()
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Cookie", "app=1; __Host-authgate="+token+"; theme=dark; __Secure-authgate-refresh=R; __Host-authgate-csrf=C")
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != "app" {
			t.Fatalf("request %d = %d %q; want 200 from the backend", i, res.StatusCode, body)
		}
		if res.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("request %d: no HSTS header on an https answer", i)
		}
		got := b.last(t)
		checkReceived(t, got, map[string][]string{
			"X-Auth-User-Id":    {"42"},
			"X-Auth-User":       {"alice"},
			"X-Auth-Email":      {"alice@example.com"},
			"X-Auth-Roles":      {"dev"},
			"X-Auth-Jwt":        got.Header["X-Auth-Jwt"],
			"X-Forwarded-For":   {"127.0.0.1"},
			"X-Forwarded-Host":  {g.httpsAddr()},
			"X-Forwarded-Proto": {"https"},
			"X-Request-Id":      {res.Header.Get("X-Request-Id")},
			"Cookie":            {"app=1; theme=dark"},
		})
		testenv.WaitFor(t, "the connection to park", func() bool { return parkedGauge(t, g) == 1 })
	}
	if conns != 1 {
		t.Errorf("the client opened %d connections for 4 requests; want 1", conns)
	}

	// Without a token the parked connection still gets the 401, and the
	// backend is not called.
	before := b.count()
	res, _ := get(t, c, g.url("/private/x"), nil)
	if res.StatusCode != http.StatusUnauthorized || b.count() != before {
		t.Errorf("request without a token after parking = %d (backend calls %d → %d); want 401 and no call",
			res.StatusCode, before, b.count())
	}
}
