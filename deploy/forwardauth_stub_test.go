package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The forward-auth configs are run in real nginx and Caddy in front of two
// servers: a stub playing authgate's /auth/verify as forward-auth/README.md
// describes it (so that what the ingress sends and passes on is seen
// exactly, and answers such as 503 are easy to make), and a backend that
// records what reaches the app. forwardauth_real_test.go runs the same
// ingresses in front of authgate itself. The stub decides by the original path it
// is given, so each path below is one kind of answer.
const (
	pathOK          = "/ok"          // 200 with identity headers
	pathPublic      = "/public"      // 200 without any
	pathLogin       = "/login"       // browser without a session: to the login page
	pathAPI         = "/api"         // API call without a token: 401
	pathForbidden   = "/forbidden"   // a role missing: 403
	pathUnavailable = "/unavailable" // revocations cannot be trusted: 503

	stubLoginURL   = "https://auth.example.com/auth/login"
	stubChallenge  = `Bearer realm="authgate", error="invalid_token"`
	stubForbidden  = `Bearer realm="authgate", error="insufficient_scope"`
	stubAPIPage    = "authgate auth API"
	backendAnswers = "the app"
)

// identityValues are the stub's answer for pathOK, in the order of
// faConfig.headers: user id, username, email, roles, assertion (the stub
// plays an authgate with identity_headers.assertion set).
var identityValues = []string{"u-1", "alice", "alice@example.com", "admin,staff", "eyJ.stub.jwt"}

// seen is one request a stub or the backend received.
type seen struct {
	Method string
	URI    string // the request target as received
	Header http.Header
	Body   string
}

// recorder keeps the requests a server received.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) record(req *http.Request) seen {
	body, _ := io.ReadAll(req.Body)
	s := seen{Method: req.Method, URI: req.RequestURI, Header: req.Header.Clone(), Body: string(body)}
	s.Header.Set("Host", req.Host)
	r.mu.Lock()
	r.reqs = append(r.reqs, s)
	r.mu.Unlock()
	return s
}

// take returns what was received since the last take and forgets it.
func (r *recorder) take() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// stubAuthgate plays authgate: checks under verifyPath, anything else is
// "the auth API" (login page and friends on auth.example.com).
type stubAuthgate struct {
	verifyPath string
	headers    []string // identity header names, from config.yaml
	checks     recorder // requests to verifyPath
	api        recorder // every other request
}

func (s *stubAuthgate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.verifyPath && !strings.HasPrefix(r.URL.Path, s.verifyPath+"/") {
		s.api.record(r)
		io.WriteString(w, stubAPIPage)
		return
	}
	s.checks.record(r)
	orig, nginxStyle := s.original(r)
	h := w.Header()
	switch orig.Path {
	case pathOK:
		for i, name := range s.headers {
			h.Set(name, identityValues[i])
		}
		w.WriteHeader(http.StatusOK)
	case pathPublic:
		w.WriteHeader(http.StatusOK)
	case pathLogin:
		h.Set("Location", stubLoginURL+"?rd="+url.QueryEscape(orig.String()))
		if nginxStyle {
			w.WriteHeader(http.StatusUnauthorized) // nginx makes the redirect
		} else {
			w.WriteHeader(http.StatusFound)
		}
	case pathForbidden:
		h.Set("WWW-Authenticate", stubForbidden)
		w.WriteHeader(http.StatusForbidden)
	case pathUnavailable:
		w.WriteHeader(http.StatusServiceUnavailable)
	default: // pathAPI, and anything unknown: fail closed
		h.Set("WWW-Authenticate", stubChallenge)
		w.WriteHeader(http.StatusUnauthorized)
	}
}

// original rebuilds the request to judge in the contract's order:
// X-Original-URL (nginx), then X-Forwarded-Proto/-Host/-Uri (Caddy,
// Traefik). nginxStyle reports the first.
func (s *stubAuthgate) original(r *http.Request) (u *url.URL, nginxStyle bool) {
	if v := r.Header.Get("X-Original-URL"); v != "" {
		u, err := url.Parse(v)
		if err == nil {
			return u, true
		}
	}
	u, err := url.Parse(r.Header.Get("X-Forwarded-Proto") + "://" + r.Header.Get("X-Forwarded-Host") + r.Header.Get("X-Forwarded-Uri"))
	if err != nil {
		return &url.URL{Path: "/unparsable"}, false
	}
	return u, false
}

// forwardAuthRig is the stub, the backend and a client that reaches the
// ingress under test for any host name.
type forwardAuthRig struct {
	cfg      faConfig
	stub     *stubAuthgate
	authgate *httptest.Server
	backend  recorder
	app      *httptest.Server
}

func newForwardAuthRig(t *testing.T) *forwardAuthRig {
	t.Helper()
	rig := &forwardAuthRig{cfg: readFAConfig(t)}
	rig.stub = &stubAuthgate{verifyPath: rig.cfg.verifyPath, headers: rig.cfg.headers}
	rig.authgate = httptest.NewServer(rig.stub)
	t.Cleanup(rig.authgate.Close)
	rig.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.backend.record(r)
		io.WriteString(w, backendAnswers)
	}))
	t.Cleanup(rig.app.Close)
	return rig
}

// client returns a client that dials addr whatever the URL's host, trusts
// roots (nil: the system's) and follows no redirect.
func (rig *forwardAuthRig) client(addr string, roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// shipped returns a file under forward-auth/ with each old string replaced
// by its new one, failing when one is missing: the test runs what is
// shipped, changed only in addresses, ports and file names.
func shipped(t *testing.T, name string, oldNew ...string) string {
	t.Helper()
	text := string(readFile(t, filepath.Join("forward-auth", name)))
	if strings.Contains(text, "{{") {
		t.Fatalf("forward-auth/%s contains {{, which the tests' templates would take for an action", name)
	}
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(text, oldNew[i]) {
			t.Fatalf("forward-auth/%s no longer contains %q, which the test replaces: update the test with the file", name, oldNew[i])
		}
		text = strings.ReplaceAll(text, oldNew[i], oldNew[i+1])
	}
	return text
}

// tlsFiles writes a certificate for hosts and its key into dir and
// returns their paths and a pool that trusts the certificate.
func tlsFiles(t *testing.T, dir string, hosts ...string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: hosts[0]},
		DNSNames:              hosts,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, roots
}
