package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/authgate/authgate/tokens"
)

// hostConfusionConfig is the setup of the review that found Host
// confusion: admin.test needs the admin role, and a route without hosts
// sends everything else, publicly, to the same application — which reads
// the host it serves from X-Forwarded-Host (Express with trust proxy).
func hostConfusionConfig(b *backend) string {
	return fmt.Sprintf(`routes:
  - name: admin
    hosts: [admin.test]
    path: /
    auth: required
    roles: [admin]
    upstream: %[1]s
  - name: public
    path: /
    auth: public
    upstream: %[1]s
`, b.URL)
}

// badHosts are Host spellings that are no host[:port] of RFC 3986 §3.2.2
// and §3.2.3 (or no name a browser would send): each is a 400 before any
// route is chosen. The first four are the review's: each reached the
// public route while the backend took it for admin.test.
var badHosts = []struct{ name, host string }{
	{"fail-port-then-colon", "admin.test:443:"},
	{"fail-port-not-digits", "admin.test:x:y"},
	{"fail-two-trailing-dots", "admin.test.."},
	{"fail-percent-encoded-dot", "admin.test%2e"},
	{"fail-percent-encoded-dot-inside", "admin%2Etest"},
	{"fail-empty-port", "admin.test:"},
	{"fail-double-colon", "admin.test::443"},
	{"fail-port-sign", "admin.test:+443"},
	{"fail-port-leading-zero", "admin.test:0443"},
	{"fail-port-too-big", "admin.test:65536"},
	{"fail-port-bracket", "admin.test:443]"},
	{"fail-leading-dot", ".admin.test"},
	{"fail-empty-label", "admin..test"},
	{"fail-sub-delim-semicolon", "admin.test;.other.test"},
	{"fail-sub-delim-comma", "admin.test,other.test"},
	{"fail-sub-delim-bang", "admin.test!"},
	{"fail-star", "*.admin.test"},
	{"fail-label-leading-hyphen", "-admin.test"},
	{"fail-label-trailing-hyphen", "admin-.test"},
	{"fail-label-too-long", strings.Repeat("a", 64) + ".test"},
	{"fail-name-too-long", strings.Repeat("abcdefghi.", 25) + "test"},
	{"fail-ipv6-unclosed", "[::1"},
	{"fail-ipv6-junk-after", "[::1]x"},
	{"fail-ipv6-empty-port", "[::1]:"},
	{"fail-ipv6-zone", "[fe80::1%25eth0]"},
	{"fail-ipvfuture", "[v1.fe]"},
	{"fail-ipv4-in-brackets", "[127.0.0.1]"},
	{"fail-ipv4-mapped-ipv6", "[::ffff:127.0.0.1]"},
	{"fail-ipv6-unbracketed", "::1"},
	{"fail-ipv4-short", "127.1"},
	{"fail-ipv4-hex", "0x7f.0.0.1"},
	{"fail-ipv4-one-number", "2130706433"},
	{"fail-ipv4-leading-zero", "127.0.0.01"},
	{"fail-ipv4-octet-too-big", "256.0.0.1"},
	{"fail-ipv4-five-parts", "1.2.3.4.5"},
	{"fail-numeric-last-label", "admin.test.0x1"},
}

// TestHostSpellingsEndToEnd sends every Host spelling over raw sockets —
// HTTP/1.1 over TLS, the plain http listener that redirects, and raw
// HTTP/2 frames with :authority — and checks that each malformed one is a
// 400 problem that reaches no backend, while the normalised spellings of
// admin.test get admin.test's decision and the backend is told the
// normalised host in X-Forwarded-Host.
func TestHostSpellingsEndToEnd(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	cfg := g.write(hostConfusionConfig(b))
	admin := mintToken(t, cfg, tokens.IssueInput{SessionID: "host", Username: "root", Roles: []string{"admin"}}, "1")
	g.run(cfg)

	t.Run("http1-tls", func(t *testing.T) {
		for _, tt := range badHosts {
			t.Run(tt.name, func(t *testing.T) {
				before := b.count()
				res, body := g.raw("GET /page HTTP/1.1\r\nHost: " + tt.host + "\r\n\r\n")
				checkBadHost(t, res, body, tt.host)
				if n := b.count() - before; n != 0 {
					t.Errorf("Host %q: the backend received %d requests; want none (last for %s)", tt.host, n, b.last(t).Header.Get("X-Forwarded-Host"))
				}
			})
		}
	})

	t.Run("http-redirect-listener", func(t *testing.T) {
		for _, tt := range badHosts {
			t.Run(tt.name, func(t *testing.T) {
				res := rawHTTP(t, g.httpAddr(), "GET /page HTTP/1.1\r\nHost: "+tt.host+"\r\n\r\n")
				if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
					t.Errorf("http listener, Host %q = %d Location %q; want 400 and no redirect", tt.host, res.StatusCode, res.Header.Get("Location"))
				}
			})
		}
	})

	t.Run("http2-authority", func(t *testing.T) {
		for _, tt := range badHosts {
			t.Run(tt.name, func(t *testing.T) {
				before := b.count()
				status := h2Status(t, g, tt.host, "/page")
				if status != "400" && status != "reset" {
					t.Errorf(":authority %q = %s; want 400 (or the stream refused)", tt.host, status)
				}
				if n := b.count() - before; n != 0 {
					t.Errorf(":authority %q: the backend received %d requests; want none", tt.host, n)
				}
			})
		}
	})

	// Spellings that are admin.test, or another valid host, get one
	// decision, and the backend reads the normalised host.
	tests := []struct {
		name    string
		request string
		want    int
		wantXFH string // X-Forwarded-Host at the backend; "-" = none sent
	}{
		{name: "ok-admin-needs-token", request: "GET /page HTTP/1.1\r\nHost: admin.test\r\n\r\n", want: http.StatusUnauthorized},
		{name: "ok-admin-case-and-dot", request: "GET /page HTTP/1.1\r\nHost: ADMIN.Test.\r\n\r\n", want: http.StatusUnauthorized},
		{name: "ok-admin-port", request: "GET /page HTTP/1.1\r\nHost: admin.test:443\r\n\r\n", want: http.StatusUnauthorized},
		{name: "ok-admin-dot-port", request: "GET /page HTTP/1.1\r\nHost: admin.test.:8443\r\n\r\n", want: http.StatusUnauthorized},
		{name: "ok-admin-absolute-form-wins", request: "GET https://ADMIN.test./page HTTP/1.1\r\nHost: other.test\r\n\r\n", want: http.StatusUnauthorized},
		{name: "ok-admin-with-role-normalised", request: "GET /page HTTP/1.1\r\nHost: Admin.TEST.:443\r\nAuthorization: Bearer " + admin + "\r\n\r\n",
			want: http.StatusOK, wantXFH: "admin.test:443"},
		{name: "ok-admin-with-role", request: "GET /page HTTP/1.1\r\nHost: admin.test\r\nAuthorization: Bearer " + admin + "\r\n\r\n",
			want: http.StatusOK, wantXFH: "admin.test"},
		{name: "ok-other-host-public", request: "GET /page HTTP/1.1\r\nHost: Other.Test\r\n\r\n", want: http.StatusOK, wantXFH: "other.test"},
		{name: "ok-underscore-name", request: "GET /page HTTP/1.1\r\nHost: my_service:8080\r\n\r\n", want: http.StatusOK, wantXFH: "my_service:8080"},
		{name: "ok-ipv4", request: "GET /page HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n\r\n", want: http.StatusOK, wantXFH: "127.0.0.1:8443"},
		{name: "ok-ipv6", request: "GET /page HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", want: http.StatusOK, wantXFH: "[::1]:8443"},
		{name: "ok-ipv6-rfc5952", request: "GET /page HTTP/1.1\r\nHost: [0:0::0:1]\r\n\r\n", want: http.StatusOK, wantXFH: "[::1]"},
		// RFC 9112 §3.2: HTTP/1.0 may leave Host out; such a request names
		// no host, so only routes without hosts apply, and the backend is
		// told no host.
		{name: "ok-http10-without-host", request: "GET /page HTTP/1.0\r\n\r\n", want: http.StatusOK, wantXFH: "-"},
		// An https URI with an empty host is invalid (RFC 9110 §4.2.2).
		{name: "fail-http11-empty-host", request: "GET /page HTTP/1.1\r\nHost: \r\n\r\n", want: http.StatusBadRequest},
		{name: "fail-absolute-form-without-host", request: "GET https:///page HTTP/1.1\r\nHost: admin.test\r\n\r\n", want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.count()
			res, body := g.raw(tt.request)
			if res.StatusCode != tt.want {
				t.Fatalf("%q = %d %s; want %d", firstLine(tt.request), res.StatusCode, body, tt.want)
			}
			if tt.want != http.StatusOK {
				if n := b.count() - before; n != 0 {
					t.Errorf("the backend received %d requests; want none", n)
				}
				return
			}
			got := b.last(t).Header["X-Forwarded-Host"]
			switch {
			case tt.wantXFH == "-" && got != nil:
				t.Errorf("backend got X-Forwarded-Host %q; want none", got)
			case tt.wantXFH != "-" && (len(got) != 1 || got[0] != tt.wantXFH):
				t.Errorf("backend got X-Forwarded-Host %q; want %q", got, tt.wantXFH)
			}
		})
	}
	t.Run("ok-still-serves", func(t *testing.T) { checkStillServes(t, g) })
}

// checkBadHost checks that a malformed Host was answered 400 with a
// problem document.
func checkBadHost(t *testing.T, res *http.Response, body, host string) {
	t.Helper()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("Host %q = %d %.200s; want 400", host, res.StatusCode, body)
		return
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Host %q: 400 with Content-Type %q; want application/problem+json", host, ct)
	}
}

// h2Status sends one GET with the given :authority on a new raw HTTP/2
// connection and returns the response's :status, or "reset" when the
// server refused the stream or the connection.
func h2Status(t *testing.T, g *testGateway, authority, path string) string {
	t.Helper()
	h := dialH2(t, g)
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: authority}, {Name: ":path", Value: path},
	} {
		enc.WriteField(f)
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return "reset"
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			if f.StreamID != 1 {
				continue
			}
			fields, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			for _, hf := range fields {
				if hf.Name == ":status" {
					return hf.Value
				}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return "reset"
			}
		case *http2.GoAwayFrame:
			return "reset"
		}
	}
}
