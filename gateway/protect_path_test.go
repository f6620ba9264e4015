package gateway

import (
	"fmt"
	"net/http"
	"testing"
)

// TestProtectPathSpellings sends every spelling of a protected path we know
// of as the raw request line, over TLS, so that no client library cleans
// or re-encodes it, to a gateway with a protected /admin, a public /pub
// and a public catch-all /. The catch-all makes every spelling the gateway
// fails to recognise as /admin a public request that reaches the backend:
// so each spelling must be refused (400) or get the protected decision
// (401) — and the backend must receive nothing. With a token, the backend
// must receive exactly the canonical path.
func TestProtectPathSpellings(t *testing.T) {
	b := pStartBackend(t)
	routes := fmt.Sprintf(`  - name: admin
    path: /admin
    auth: required
    upstream: %[1]s
  - name: pub
    path: /pub
    auth: public
    upstream: %[1]s
  - name: rest
    path: /
    auth: public
    upstream: %[1]s
`, b.URL())
	gw, cfgFile := pConfig(t, routes, "")
	g := pStartGateway(t, gw, cfgFile)
	tok := g.login(t, g.register(t, "alice")).AccessToken

	tests := pathSpellings
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			request := "GET " + tt.target + " HTTP/1.1\r\nHost: " + g.host + "\r\nConnection: close\r\n"
			before := b.count()
			resp := g.rawRequest(t, request+"\r\n")
			wantCode := http.StatusUnauthorized
			if tt.wantPath == bad {
				wantCode = http.StatusBadRequest
			}
			if resp.StatusCode != wantCode {
				t.Errorf("GET %s without a token = %d %s; want %d", tt.target, resp.StatusCode, resp.body, wantCode)
			}
			if seen := b.since(before); len(seen) != 0 {
				t.Fatalf("GET %s without a token reached the backend as %q", tt.target, seen[0].RequestURI)
			}

			before = b.count()
			resp = g.rawRequest(t, request+"Authorization: Bearer "+tok+"\r\n\r\n")
			if tt.wantPath == bad {
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("GET %s with a token = %d; want 400", tt.target, resp.StatusCode)
				}
				if n := b.count() - before; n != 0 {
					t.Errorf("GET %s with a token reached the backend %d times; want never", tt.target, n)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s with a token = %d %s; want 200", tt.target, resp.StatusCode, resp.body)
			}
			if got := b.last(t, before).Path; got != tt.wantPath {
				t.Errorf("GET %s with a token: backend got path %q; want %q", tt.target, got, tt.wantPath)
			}
		})
	}
}

// bad is the wantPath of a spelling refused with 400.
const bad = ""

// pathSpellings are the spellings of the protected /admin (routes: admin
// required, pub public, a public catch-all /) that TestProtectPathSpellings
// sends proxied and TestForwardAuthPathSpellings sends as the original
// request of a forward-auth check: each is refused (400) or gets /admin's
// decision, and with a token the upstream gets wantPath.
var pathSpellings = []struct {
	name     string
	target   string // the request-target, as sent
	wantPath string // what the backend receives with a token; bad = 400
}{
	{"ok-plain", "/admin", "/admin"},
	{"ok-query", "/admin?x=1", "/admin"},
	{"ok-trailing-slash", "/admin/", "/admin/"},
	{"ok-subpath", "/admin/users", "/admin/users"},
	{"ok-dot-dot", "/pub/../admin", "/admin"},
	{"ok-dot-dot-encoded-lower", "/pub/%2e%2e/admin", "/admin"},
	{"ok-dot-dot-encoded-upper", "/pub/%2E%2E/admin", "/admin"},
	{"ok-dot-dot-half-encoded", "/pub/.%2e/admin", "/admin"},
	{"ok-dot", "/./admin", "/admin"},
	{"ok-dot-encoded", "/%2e/admin", "/admin"},
	{"ok-dot-dot-after", "/admin/x/..", "/admin/"},
	{"ok-double-slash", "//admin", "/admin"},
	{"ok-triple-slash", "///admin", "/admin"},
	{"ok-inner-double-slash", "/pub//../admin", "/admin"},
	{"ok-upper", "/ADMIN", "/ADMIN"},
	{"ok-mixed-case", "/Admin", "/Admin"},
	{"ok-encoded-letter", "/%61dmin", "/admin"},
	{"ok-encoded-upper-letter", "/%41DMIN", "/ADMIN"},
	{"ok-absolute-form", "https://localhost/pub/../admin", "/admin"},
	{"fail-dot-dot-above-root", "/../admin", bad},
	{"fail-encoded-slash-lower", "/pub%2f..%2fadmin", bad},
	{"fail-encoded-slash-upper", "/pub%2F..%2Fadmin", bad},
	{"fail-encoded-slash-after-dots", "/pub/..%2fadmin", bad},
	{"fail-encoded-backslash", "/pub%5c..%5cadmin", bad},
	{"fail-raw-backslash", `/pub\..\admin`, bad},
	{"fail-trailing-dot", "/admin.", bad},
	{"fail-trailing-dot-encoded", "/admin%2e", bad},
	{"fail-trailing-space-encoded", "/admin%20", bad},
	{"fail-semicolon", "/admin;x", bad},
	{"fail-semicolon-encoded", "/admin%3bx", bad},
	{"fail-tomcat-dot-dot-semicolon", "/pub/..;/admin", bad},
	{"fail-double-encoded-dots", "/%252e%252e/admin", bad},
	{"fail-double-encoded-dots-under-pub", "/pub/%252e%252e/admin", bad},
	{"fail-double-encoded-slash", "/pub%252f..%252fadmin", bad},
	{"fail-nul", "/admin%00", bad},
	{"fail-tab", "/admin%09", bad},
	{"fail-iis-u-encoding", "/pub/%u002e%u002e/admin", bad},
	{"fail-malformed-escape", "/admin%2", bad},
	{"fail-triple-dot", "/pub/.../admin", bad},
	{"fail-raw-hash-segment", "/pub#/../admin", bad},
	{"fail-overlong-utf8-dots", "/pub/%c0%ae%c0%ae/admin", bad},
	{"fail-dotless-i", "/adm%C4%B1n", bad},
	{"fail-fullwidth-letters-encoded", "/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E", bad},
	{"fail-fullwidth-letters-raw", "/ａｄｍｉｎ", bad},
	{"fail-fullwidth-letter-mixed", "/%EF%BD%81dmin", bad},
	{"fail-fullwidth-dots", "/pub/%EF%BC%8E%EF%BC%8E/admin", bad},
	{"fail-fullwidth-solidus", "/pub%EF%BC%8F..%EF%BC%8Fadmin", bad},
	{"fail-two-dot-leader", "/pub/%E2%80%A5/admin", bad},
	{"fail-one-dot-leader-trailing", "/admin%E2%80%A4", bad},
	{"fail-ligature", "/pub/%EF%AC%81le/../../admin", bad},
}
