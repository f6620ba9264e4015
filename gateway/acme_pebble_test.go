package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
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
	"golang.org/x/net/dns/dnsmessage"
)

// The ACME tests run a real ACME server, Pebble, with a DNS server of the
// test's own that resolves every name to 127.0.0.1, and let it validate
// the gateway's HTTP-01 and TLS-ALPN-01 answers on loopback. Validation is
// real: PEBBLE_VA_ALWAYS_VALID is never set.

const pebbleVersion = "v2.10.3"

var pebbleTool = testenv.GoTool{Install: "github.com/letsencrypt/pebble/v2/cmd/pebble@" + pebbleVersion}

// acmeFront is the counting proxy the gateway talks ACME through, in
// front of Pebble: every new-order request goes through it, so tests can
// tell whether an order was placed. It starts (on port 0) before Pebble
// does, because the gateway must be configured with its directory URL
// and Pebble with the gateway's ports.
type acmeFront struct {
	directory string // the ACME directory URL the gateway uses
	caFile    string // CA that signs the front's and Pebble's TLS certificates
	caPEM     []byte
	certFile  string // their certificate and key
	keyFile   string
	orders    atomic.Int64
	target    atomic.Pointer[url.URL] // Pebble's ACME listener, once it runs
}

func startACMEFront(t *testing.T) *acmeFront {
	t.Helper()
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := testCA(t, "127.0.0.1", "localhost")
	f := &acmeFront{
		caFile:   filepath.Join(dir, "ca.pem"),
		caPEM:    caPEM,
		certFile: filepath.Join(dir, "cert.pem"),
		keyFile:  filepath.Join(dir, "key.pem"),
	}
	writeFile(t, f.caFile, caPEM)
	writeFile(t, f.certFile, certPEM)
	writeFile(t, f.keyFile, keyPEM)

	// It keeps the client's Host so that Pebble's directory points back
	// at it.
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(f.target.Load())
			pr.Out.Host = pr.In.Host
			if strings.HasSuffix(pr.In.URL.Path, "/order-plz") {
				f.orders.Add(1)
			}
		},
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.roots()}},
	}
	front := httptest.NewUnstartedServer(rp)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	front.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	front.StartTLS()
	t.Cleanup(front.Close)
	f.directory = front.URL + "/dir"
	return f
}

// roots trusts the test CA.
func (f *acmeFront) roots() *x509.CertPool {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(f.caPEM)
	return roots
}

// pebble is one running Pebble.
type pebble struct {
	management string // Pebble's management API (for its issuing roots)
	mgmtClient *http.Client
}

// startPebble runs Pebble behind f, validating HTTP-01 against httpPort
// and TLS-ALPN-01 against tlsPort on 127.0.0.1 (names resolved by a DNS
// server of the test's own), and waits until both its listeners serve.
//
// Pebble cannot be given a listener, and started on port 0 it does not
// say which ports it got: it gets two ports that were free a moment ago,
// and when another process took one first, Pebble exits saying so and
// starts again on two others. Its TLS certificate is signed by the test's
// own CA, so a server of someone else's on those ports is never taken
// for it.
func startPebble(t *testing.T, f *acmeFront, httpPort, tlsPort int) *pebble {
	t.Helper()
	bin := pebbleTool.Binary(t)
	dns := startTestDNS(t)
	p := &pebble{mgmtClient: &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.roots()}},
		Timeout:   10 * time.Second,
	}}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		acme, mgmt := candidatePort(t), candidatePort(t)
		err := p.start(t, bin, f, dns, acme, mgmt, httpPort, tlsPort)
		if err == nil {
			return p
		}
		if !errors.Is(err, errPortTaken) || attempt == attempts {
			t.Fatalf("start pebble (attempt %d): %v", attempt, err)
		}
		t.Logf("start pebble (attempt %d): %v; again on other ports", attempt, err)
	}
}

// errPortTaken: another process took a port between its choice and
// Pebble's bind.
var errPortTaken = errors.New("a port was taken first")

// candidatePort returns a port that was free a moment ago. Only for a
// program that cannot bind port 0 and report it, and only with a retry
// when the program finds it taken (startPebble).
func candidatePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs Pebble once on ports acme and mgmt. It returns errPortTaken
// when Pebble exits because one was in use.
func (p *pebble) start(t *testing.T, bin string, f *acmeFront, dns string, acme, mgmt, httpPort, tlsPort int) error {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acme),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":                    f.certFile,
		"privateKey":                     f.keyFile,
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

	cmd := exec.Command(bin, "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", dns)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	log := &logBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pebble: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}

	acmeURL := &url.URL{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", acme)}
	p.management = fmt.Sprintf("https://127.0.0.1:%d", mgmt)
	serves := func(u string) bool {
		resp, err := p.mgmtClient.Get(u)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(30 * time.Second)
	for !serves(acmeURL.String()+"/dir") || !serves(p.management+"/roots/0") {
		select {
		case <-exited:
			if strings.Contains(log.String(), "address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, strings.TrimSpace(log.String()))
			}
			return fmt.Errorf("pebble exited:\n%s", log)
		case <-time.After(50 * time.Millisecond): // poll interval
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("pebble did not serve within 30 s:\n%s", log)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("pebble log:\n%s", log)
		}
	})
	f.target.Store(acmeURL)
	return nil
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

// startTestDNS serves DNS over TCP on 127.0.0.1, port 0, until the test
// ends, and returns its address: every A query is answered 127.0.0.1,
// every other query with no record. It is the resolver Pebble validates
// through — Pebble asks it for A and AAAA, over TCP only — so that the
// test's names lead to the gateway.
func startTestDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serveDNS(c)
			})
		}
	})
	return ln.Addr().String()
}

// serveDNS answers the queries on one connection, each message preceded
// by its length in two bytes (RFC 1035 §4.2.2).
func serveDNS(c net.Conn) {
	var size [2]byte
	for {
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		query := make([]byte, int(size[0])<<8|int(size[1]))
		if _, err := io.ReadFull(c, query); err != nil {
			return
		}
		answer, err := dnsAnswer(query)
		if err != nil {
			return
		}
		if _, err := c.Write(append([]byte{byte(len(answer) >> 8), byte(len(answer))}, answer...)); err != nil {
			return
		}
	}
}

// dnsAnswer answers one query (RFC 1035 §4.1): 127.0.0.1 for the first
// question if it asks for an A record, else no record.
func dnsAnswer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true,
	})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if q.Type == dnsmessage.TypeA && q.Class == dnsmessage.ClassINET {
		rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET}
		if err := b.AResource(rh, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
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
	addSANs(tmpl, hosts)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}
