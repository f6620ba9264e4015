package deploy

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromium = "/usr/bin/chromium"

// browserTimeout bounds the round trip, so that a page that never shows
// what is awaited fails the test instead of hanging it. A guard, not a
// measurement.
const browserTimeout = 60 * time.Second

// testBrowserRoundTrip has headless Chromium open a page of the app
// without a session: the ingress sends it to authgate's login page on the
// auth host, and after signing in it is back on the very page and query,
// which the app serves with authgate's identity. certFile is the
// ingress's certificate (nginx), "" for plain HTTP (Caddy), whose origins
// Chromium is told to treat as secure so that it keeps the Secure cookies.
func testBrowserRoundTrip(t *testing.T, in *realIngress, certFile string) {
	if testing.Short() {
		t.Skip("headless Chromium is not a short test")
	}
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found at %s: %v", chromium, err)
		}
		t.Skipf("!!! Chromium not found at %s (%v): browser test skipped", chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// The example hosts are the ingress on loopback.
		chromedp.Flag("host-resolver-rules", "MAP *.example.com 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
	)
	if certFile != "" {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(t, certFile)))
	} else {
		opts = append(opts, chromedp.Flag("unsafely-treat-insecure-origin-as-secure",
			in.url("auth.example.com", "")+","+in.url("app.example.com", "")))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	defer cancel()

	original := in.url("app.example.com", "/page/sub?x=1&y=%2F")
	in.backend.take()
	if err := chromedp.Do(ctx, chromedp.Navigate(original), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("opening %s: %v", original, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != strings.TrimPrefix(in.url("auth.example.com", ""), in.scheme+"://") || u.Path != "/auth/login" || u.Query().Get("rd") != original {
		t.Fatalf("browser is at %s; want the login page on the auth host with rd=%s", loc, original)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "correct-horse-alice"),
		chromedp.Click(chromedp.CSS(`form[action="/auth/login"] button[type=submit]`)),
	); err != nil {
		t.Fatalf("signing in: %v", err)
	}
	// The app answers text/plain, which Chromium shows in a <pre>.
	waitCtx, cancelWait := context.WithTimeout(ctx, browserTimeout/2)
	defer cancelWait()
	if err := chromedp.Do(waitCtx, chromedp.WaitVisible(chromedp.CSS("body > pre"))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("after signing in: %v; the browser is at %s showing:\n%s", err, loc, page)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body > pre")))
	if err != nil {
		t.Fatal(err)
	}
	if loc, err = chromedp.Run(ctx, chromedp.Location()); err != nil {
		t.Fatal(err)
	}
	if loc != original || body != backendAnswers {
		t.Errorf("after signing in the browser is at %s showing %q; want %s showing %q", loc, body, original, backendAnswers)
	}
	var got []string
	for _, a := range in.backend.take() {
		if a.URI == "/page/sub?x=1&y=%2F" { // not /favicon.ico
			got = append(got, a.Header.Get("X-Auth-User"))
		}
	}
	if len(got) != 1 || got[0] != "alice" {
		t.Errorf("the app got the page for X-Auth-User %q; want once, for alice", got)
	}
}

// spkiHash is the base64 SHA-256 of the certificate's public key, which
// Chromium's ignore-certificate-errors-spki-list trusts, and nothing else.
func spkiHash(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
