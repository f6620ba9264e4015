package gateway

import (
	"net/http"
	"testing"

	"github.com/authgate/authgate/tokens"
)

// TestPathSpellingsEndToEnd sends spellings of a path over the wire, as
// written (Go's client would not send most of them): each is refused with
// 400 or decided as its canonical path, and the backend sees only the
// canonical form. No spelling of /admin gets past authentication.
func TestPathSpellingsEndToEnd(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	cfgFile := g.write(`routes:
  - name: public
    path: /
    auth: public
    upstream: ` + b.URL + `
  - name: admin
    path: /admin
    auth: required
    upstream: ` + b.URL + "\n")
	g.run(cfgFile)
	token := mintToken(t, cfgFile, tokens.IssueInput{SessionID: "s", Username: "root"}, "1")

	tests := []struct {
		name    string
		method  string // default GET
		target  string // request-target as written on the wire
		token   bool
		want    int
		wantURI string // what the backend must see; "" = nothing
	}{
		{name: "ok-plain", target: "/b", want: 200, wantURI: "/b"},
		{name: "ok-dot-dot", target: "/a/../b", want: 200, wantURI: "/b"},
		{name: "ok-dot", target: "/./b", want: 200, wantURI: "/b"},
		{name: "ok-double-slash", target: "//b", want: 200, wantURI: "/b"},
		{name: "ok-encoded-dot-dot", target: "/a/%2e%2e/b", want: 200, wantURI: "/b"},
		{name: "ok-encoded-letter", target: "/%62", want: 200, wantURI: "/b"},
		{name: "fail-encoded-question-mark", target: "/b%3fx=1", want: 400},
		{name: "fail-encoded-hash", target: "/b%23x", want: 400},
		{name: "ok-query-kept", target: "/a/../b?x=1&y=%2F", want: 200, wantURI: "/b?x=1&y=%2F"},
		{name: "fail-dot-dot-above-root", target: "/../b", want: 400},
		{name: "fail-encoded-dot-dot-above-root", target: "/%2e%2e/b", want: 400},
		{name: "fail-encoded-slash", target: "/a%2Fb", want: 400},
		{name: "fail-encoded-slash-lower", target: "/a%2fb", want: 400},
		{name: "fail-backslash", target: `/a\b`, want: 400},
		{name: "fail-encoded-backslash", target: "/a%5Cb", want: 400},
		{name: "fail-semicolon", target: "/a;x", want: 400},
		{name: "fail-double-encoding", target: "/a%252Fb", want: 400},
		{name: "fail-overlong-dot", target: "/a/%C0%AE%C0%AE/b", want: 400},
		{name: "fail-nul", target: "/a%00b", want: 400},
		{name: "ok-absolute-form", target: "http://x/a/../b", want: 200, wantURI: "/b"},            // RFC 9112 §3.2.2
		{name: "ok-absolute-form-empty-path", target: "http://x?q=1", want: 200, wantURI: "/?q=1"}, // RFC 9110 §4.2.3
		{name: "fail-asterisk-form", target: "*", want: 400},
		{name: "fail-authority-form", method: "CONNECT", target: "127.0.0.1:443", want: 400},

		// Every way round to /admin is /admin, and needs a token.
		{name: "fail-admin-plain", target: "/admin", want: 401},
		{name: "fail-admin-dot-dot", target: "/b/../admin", want: 401},
		{name: "fail-admin-encoded", target: "/%61dmin/x", want: 401},
		{name: "fail-admin-encoded-dots", target: "/b/%2E%2E/admin", want: 401},
		{name: "fail-admin-case", target: "/ADMIN", want: 401},
		{name: "fail-admin-double-slash", target: "//admin", want: 401},
		{name: "fail-admin-absolute-form", target: "http://x/b/../admin", want: 401},
		{name: "fail-admin-trailing-dot", target: "/admin.", want: 400},
		{name: "fail-admin-semicolon", target: "/admin;jsessionid=1", want: 400},
		{name: "fail-admin-encoded-slash", target: "/b%2F..%2Fadmin", want: 400},
		{name: "ok-admin-with-token", target: "/b/../admin/x", token: true, want: 200, wantURI: "/admin/x"},
		{name: "ok-admin-encoded-with-token", target: "/%61dmin/./x", token: true, want: 200, wantURI: "/admin/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.count()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			head := method + " " + tt.target + " HTTP/1.1\r\nHost: " + g.httpsAddr() + "\r\n"
			if tt.token {
				head += "Authorization: Bearer " + token + "\r\n"
			}
			res, body := g.raw(head + "Connection: close\r\n\r\n")
			if res.StatusCode != tt.want {
				t.Errorf("%s %s = %d %q; want %d", method, tt.target, res.StatusCode, body, tt.want)
			}
			reqs := b.requests()[before:]
			switch {
			case tt.wantURI == "" && len(reqs) != 0:
				t.Errorf("GET %s reached the backend as %q; want it stopped at the gateway", tt.target, reqs[0].RequestURI)
			case tt.wantURI != "" && len(reqs) != 1:
				t.Errorf("GET %s reached the backend %d times; want once", tt.target, len(reqs))
			case tt.wantURI != "" && reqs[0].RequestURI != tt.wantURI:
				t.Errorf("GET %s reached the backend as %q; want %q", tt.target, reqs[0].RequestURI, tt.wantURI)
			}
			if tt.want == http.StatusOK && body != "app" {
				t.Errorf("GET %s body = %q; want the backend's", tt.target, body)
			}
		})
	}
}
