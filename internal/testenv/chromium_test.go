package testenv

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestChromiumTrustsOnlyGivenCert has a browser trusting a self-signed
// server's certificate load its page, and a browser told to trust nothing
// refuse it.
func TestChromiumTrustsOnlyGivenCert(t *testing.T) {
	RequireChromium(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<title>ok</title><p>ok</p>`)
	}))
	t.Cleanup(srv.Close)
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	title := func(o ChromiumOptions) string {
		ctx, cancel := context.WithTimeout(Chromium(t, o), 30*time.Second)
		defer cancel()
		_ = chromedp.Do(ctx, chromedp.Navigate(srv.URL))
		title, _ := chromedp.Run(ctx, chromedp.Title())
		return title
	}
	if got := title(ChromiumOptions{TrustCerts: []string{certFile}}); got != "ok" {
		t.Errorf("trusting the server's certificate, the page's title is %q; want ok", got)
	}
	if got := title(ChromiumOptions{}); got == "ok" {
		t.Errorf("trusting no certificate, the browser loaded the self-signed server's page")
	}
}
