package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestChromiumTrustsOnlyGivenCert starts the browser trusting one
// self-signed server's certificate: a page of that server loads, one of
// another self-signed server does not.
func TestChromiumTrustsOnlyGivenCert(t *testing.T) {
	RequireChromium(t)
	serve := func() (*httptest.Server, string) {
		s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `<title>ok</title><p id="ok">ok</p>`)
		}))
		t.Cleanup(s.Close)
		f := filepath.Join(t.TempDir(), "cert.pem")
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		return s, f
	}
	trusted, certFile := serve()
	browser := Chromium(t, ChromiumOptions{TrustCerts: []string{certFile}})

	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(trusted.URL)); err != nil {
		t.Fatalf("opening the trusted server's page: %v", err)
	}
	if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "ok" {
		t.Fatalf("trusted server: title %q, %v; want ok", title, err)
	}

	// httptest servers share one built-in certificate, so the untrusted
	// server gets a certificate of its own.
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<title>ok</title>`)
	}))
	other.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	other.StartTLS()
	t.Cleanup(other.Close)
	_ = chromedp.Do(ctx, chromedp.Navigate(other.URL))
	if title, _ := chromedp.Run(ctx, chromedp.Title()); title == "ok" {
		t.Fatal("the browser loaded a page of a server whose certificate it was not told to trust")
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
