package gateway

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/tokens"
)

// cookieLine is one Cookie header of n application cookies (name=value,
// each value pad bytes long), followed by extra pairs.
func cookieLine(n, pad int, extra ...string) string {
	parts := make([]string, 0, n+len(extra))
	for i := range n {
		parts = append(parts, fmt.Sprintf("c%04d=%s", i, strings.Repeat("v", pad)))
	}
	return strings.Join(append(parts, extra...), "; ")
}

// TestManyCookies: the protected-route path scans the Cookie header for the
// gateway's cookie, and the proxy rewrites it without the gateway's own.
// A request with thousands of cookies, or one Cookie header of 60 KiB, is
// served normally (the scans are linear; the time per request is logged),
// a header over limits.max_header_bytes is refused with 431 before any of
// that runs, and two different access cookies among thousands are still
// found and refused as ambiguous.
func TestManyCookies(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	cfg := g.write("routes:\n  - path: /\n    auth: required\n    upstream: " + b.URL + "\n")
	token := mintToken(t, cfg, tokens.IssueInput{SessionID: "cookies", Username: "heidi"}, "7")
	g.run(cfg)
	c := g.client(false)
	access := "__Host-authgate=" + token

	tests := []struct {
		name       string
		cookie     string
		want       int
		wantUpward int // cookies the backend receives
	}{
		{name: "ok-3000-cookies", cookie: cookieLine(3000, 1, access), want: http.StatusOK, wantUpward: 3000},
		{name: "ok-60KiB-header", cookie: cookieLine(60, 1000, access), want: http.StatusOK, wantUpward: 60},
		{name: "fail-two-access-cookies-among-3000", cookie: cookieLine(3000, 1, access, "__Host-authgate=other"), want: http.StatusBadRequest},
		// net/http enforces max_header_bytes with up to 8 KiB of buffering
		// slack (4 KiB on a new connection): 80 KiB is over on any.
		{name: "fail-over-max-header-bytes", cookie: cookieLine(80, 1000, access), want: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.count()
			res, body := get(t, c, g.url("/x"), http.Header{"Cookie": {tt.cookie}})
			if res.StatusCode != tt.want {
				t.Fatalf("GET with a %d-byte Cookie header = %d %.200q; want %d", len(tt.cookie), res.StatusCode, body, tt.want)
			}
			if tt.want != http.StatusOK {
				if b.count() != before {
					t.Errorf("the backend received a refused request")
				}
				return
			}
			got := b.last(t).Header.Get("Cookie")
			if n := strings.Count(got, "="); n != tt.wantUpward || strings.Contains(got, "__Host-authgate") {
				t.Errorf("the backend received %d cookies (gateway's among them: %t); want the %d application cookies only",
					n, strings.Contains(got, "__Host-authgate"), tt.wantUpward)
			}
		})
	}

	// Time per request by cookie count, for the report: linear growth is
	// a few microseconds per thousand cookies, far below the round trip.
	for _, n := range []int{30, 300, 3000} {
		header := http.Header{"Cookie": {cookieLine(n, 1, access)}}
		var took []time.Duration
		for range 21 {
			start := time.Now()
			res, _ := get(t, c, g.url("/x"), header)
			took = append(took, time.Since(start))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET with %d cookies = %d", n, res.StatusCode)
			}
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		t.Logf("%4d cookies: median %v per request through the gateway", n, took[len(took)/2])
	}
	if res, body := get(t, g.client(false), g.url("/after"), http.Header{"Authorization": {"Bearer " + token}}); res.StatusCode != http.StatusOK {
		t.Errorf("GET /after = %d %q; want 200: the server must keep serving", res.StatusCode, body)
	}
}
