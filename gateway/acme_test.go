package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// The ACME tests run a real ACME server, Pebble, with pebble-challtestsrv
// as its DNS so that test names resolve to 127.0.0.1, and let it validate
// the gateway's HTTP-01 and TLS-ALPN-01 answers on loopback. Validation is
// real: PEBBLE_VA_ALWAYS_VALID is never set.

const pebbleVersion = "v2.10.3"

var (
	pebbleOnce sync.Once
	pebbleBin  string
	pebbleErr  error
)

// pebbleBinaries builds pebble and pebble-challtestsrv once per test
// process (the Go build cache makes later runs quick).
func pebbleBinaries(t *testing.T) string {
	t.Helper()
	pebbleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authgate-pebble-")
		if err != nil {
			pebbleErr = err
			return
		}
		cmd := exec.Command("go", "install",
			"github.com/letsencrypt/pebble/v2/cmd/pebble@"+pebbleVersion,
			"github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@"+pebbleVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			pebbleErr = fmt.Errorf("go install pebble: %v\n%s", err, out)
			return
		}
		pebbleBin = dir
	})
	if pebbleErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(pebbleErr)
		}
		t.Skipf("!!! cannot build Pebble (%v): ACME test skipped", pebbleErr)
	}
	return pebbleBin
}

// pebble is one running Pebble with its DNS server, fronted by a counting
// proxy so tests can tell whether an order was placed.
type pebble struct {
	directory  string // the ACME directory URL the gateway uses
	caFile     string // CA that signs the directory's (and the proxy's) TLS certificate
	management string // Pebble's management API (for its issuing roots)
	orders     atomic.Int64
	mgmtClient *http.Client
}

// startPebble runs Pebble validating HTTP-01 against httpPort and
// TLS-ALPN-01 against tlsPort on 127.0.0.1.
func startPebble(t *testing.T, httpPort, tlsPort int) *pebble {
	t.Helper()
	bin := pebbleBinaries(t)
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := testCA(t, "127.0.0.1", "localhost")
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, caPEM)
	writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
	writeFile(t, filepath.Join(dir, "key.pem"), keyPEM)

	dnsPort := testenv.FreePort(t)
	acmePort := testenv.FreePort(t)
	mgmtPort := testenv.FreePort(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    filepath.Join(dir, "cert.pem"),
		"privateKey":                     filepath.Join(dir, "key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "default", "validityPeriod": 7776000,
		}},
	}}
	b, _ := json.Marshal(cfg)
	writeFile(t, filepath.Join(dir, "pebble.json"), b)

	start := func(name string, env []string, args ...string) {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Env = append(os.Environ(), env...)
		logf, _ := os.Create(filepath.Join(dir, name+".log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			logf.Close()
			if t.Failed() {
				out, _ := os.ReadFile(logf.Name())
				t.Logf("%s log:\n%s", name, out)
			}
		})
	}
	start("pebble-challtestsrv", nil,
		"-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort),
		"-management", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	start("pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		"-config", filepath.Join(dir, "pebble.json"),
		"-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort))

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	p := &pebble{caFile: caFile, mgmtClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	p.management = fmt.Sprintf("https://127.0.0.1:%d", mgmtPort)
	waitFor(t, "pebble", func() bool {
		resp, err := p.mgmtClient.Get(fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort))
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})

	// The counting proxy: every new-order request goes through it. It keeps
	// the client's Host so that Pebble's directory points back at it.
	target, _ := url.Parse(fmt.Sprintf("https://127.0.0.1:%d", acmePort))
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			if strings.HasSuffix(pr.In.URL.Path, "/order-plz") {
				p.orders.Add(1)
			}
		},
		Transport: tr,
	}
	proxy := httptest.NewUnstartedServer(rp)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	proxy.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	p.directory = proxy.URL + "/dir"
	return p
}

// issuerRoots returns Pebble's issuing root, which a client needs to trust
// certificates Pebble signed.
func (p *pebble) issuerRoots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.mgmtClient.Get(p.management + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble /roots/0 returned no certificate: %q", b)
	}
	return pool
}

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
			httpsPort, httpPort := testenv.FreePort(t), testenv.FreePort(t)
			tlsPort := httpsPort
			if tt.challenge == "http-01" {
				// TLS-ALPN-01 is autocert's first choice: point Pebble's
				// TLS-ALPN validation at a closed port so that it fails
				// and autocert falls back to HTTP-01 on our http listener.
				tlsPort = testenv.FreePort(t)
			}
			p := startPebble(t, httpPort, tlsPort)
			dir := t.TempDir()
			cfgFile := writeConfigIn(t, dir, fmt.Sprintf(`
listen:
  https: "127.0.0.1:%d"
  http: "127.0.0.1:%d"
  ops: ""
tls:
  mode: acme
  acme:
    email: ops@authgate.test
    hosts: [gw.authgate.test]
    directory_url: %s
    ca_file: %s
    cache: %s
database:
  url: sqlite:%s
tokens:
  secret: %s
routes:
  - name: echo
    path: /
    auth: public
    upstream: builtin:echo
`, httpsPort, httpPort, p.directory, p.caFile, filepath.Join(dir, "acme"), filepath.Join(dir, "db.sqlite"), testSecret))
			startServer(t, cfgFile)

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
			ordersBefore := p.orders.Load()
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
			if got := p.orders.Load(); got != ordersBefore {
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

// testCA returns a CA certificate and a server certificate it signed for
// hosts, all PEM.
func testCA(t *testing.T, hosts ...string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "authgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
