package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

func TestACMEIssuesCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("ACME against Pebble is not a short test")
	}
	tests := []struct {
		name      string
		challenge string
	}{
		{name: "ok-tls-alpn-01", challenge: "tls-alpn-01"},
		{name: "ok-http-01", challenge: "http-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front := startACMEFront(t)
			g := newTestGateway(t)
			g.tlsMode = "acme"
			g.tlsExtra = fmt.Sprintf(`  acme:
    email: ops@authgate.test
    hosts: [gw.authgate.test]
    directory_url: %s
    ca_file: %s
    cache: %s
`, front.directory, front.caFile, filepath.Join(g.dir, "acme"))
			// The gateway asks for a certificate only at the first
			// handshake: it starts before Pebble, which must know its
			// ports.
			g.start(`routes:
  - name: echo
    path: /
    auth: public
    upstream: builtin:echo
`)
			httpsPort, httpPort := g.port("https"), g.port("http")
			tlsPort := httpsPort
			if tt.challenge == "http-01" {
				// TLS-ALPN-01 is autocert's first choice: point Pebble's
				// TLS-ALPN validation at a port that refuses connections
				// so that it fails and autocert falls back to HTTP-01 on
				// our http listener.
				_, refused, _ := net.SplitHostPort(testenv.RefusedAddr(t))
				tlsPort, _ = strconv.Atoi(refused)
			}
			p := startPebble(t, front, httpPort, tlsPort)

			roots := p.issuerRoots(t)
			client := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "gw.authgate.test"},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", httpsPort))
				},
			}}
			resp, err := client.Get("https://gw.authgate.test/hello")
			if err != nil {
				t.Fatalf("GET over the ACME certificate: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /hello = %d; want 200", resp.StatusCode)
			}
			leaf := resp.TLS.PeerCertificates[0]
			if leaf.Subject.CommonName != "gw.authgate.test" && !contains(leaf.DNSNames, "gw.authgate.test") {
				t.Errorf("certificate names = %v; want gw.authgate.test", leaf.DNSNames)
			}
			if resp.Header.Get("Strict-Transport-Security") == "" {
				t.Error("https answer has no Strict-Transport-Security header")
			}
			ordersBefore := front.orders.Load()
			if ordersBefore == 0 {
				t.Fatal("no order went through the counting proxy; the test cannot tell orders apart")
			}

			// A host outside the policy: the handshake fails and no order is
			// placed.
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp",
				fmt.Sprintf("127.0.0.1:%d", httpsPort),
				&tls.Config{RootCAs: roots, ServerName: "evil.authgate.test"})
			if err == nil {
				conn.Close()
				t.Fatal("handshake for a host outside the policy succeeded")
			}
			if got := front.orders.Load(); got != ordersBefore {
				t.Errorf("orders after out-of-policy handshake = %d; want %d (none placed)", got, ordersBefore)
			}

			// The http listener redirects our host to https and refuses to
			// redirect to a host we do not serve.
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/x?y=1", httpPort), nil)
			req.Host = "gw.authgate.test"
			resp, err = noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := fmt.Sprintf("https://gw.authgate.test:%d/x?y=1", httpsPort)
			if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
				t.Errorf("http GET = %d Location %q; want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
			}
			req.Host = "evil.example"
			resp, err = noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); loc != "" || resp.StatusCode != http.StatusBadRequest {
				t.Errorf("http GET with foreign Host = %d Location %q; want 400 and no Location", resp.StatusCode, loc)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
