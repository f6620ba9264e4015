package testenv

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

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where the browser tests expect Chromium.
const ChromiumPath = "/usr/bin/chromium"

// ChromiumOptions says what a test's headless Chromium trusts and how it
// resolves names.
type ChromiumOptions struct {
	// TrustCerts are PEM certificate files whose public keys (SPKI) the
	// browser accepts despite certificate errors; no other certificate is
	// accepted that way.
	TrustCerts []string
	// SecureOrigins are plain-HTTP origins the browser treats as secure
	// (so that it keeps Secure cookies for them).
	SecureOrigins []string
	// HostResolverRules, if not "", is Chromium's host-resolver-rules,
	// e.g. "MAP *.example.com 127.0.0.1".
	HostResolverRules string
}

// RequireChromium skips the test (loudly), or fails it under CI=true, when
// Chromium is not installed; it also skips in -short mode.
func RequireChromium(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("headless Chromium is not a short test")
	}
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found at %s: %v", ChromiumPath, err)
		}
		t.Skipf("!!! Chromium not found at %s (%v): browser tests skipped", ChromiumPath, err)
	}
}

// Chromium starts headless Chromium for the rest of the test and returns
// its context (its first tab); the browser is stopped on t.Cleanup. It
// calls RequireChromium first. The context has no timeout: the browser's
// life is that of the context, so callers bound their steps with a
// context derived from it.
func Chromium(t testing.TB, o ChromiumOptions) context.Context {
	t.Helper()
	RequireChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	if len(o.TrustCerts) > 0 {
		hashes := make([]string, len(o.TrustCerts))
		for i, f := range o.TrustCerts {
			hashes[i] = SPKIHash(t, f)
		}
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(hashes, ",")))
	}
	if len(o.SecureOrigins) > 0 {
		opts = append(opts, chromedp.Flag("unsafely-treat-insecure-origin-as-secure", strings.Join(o.SecureOrigins, ",")))
	}
	if o.HostResolverRules != "" {
		opts = append(opts, chromedp.Flag("host-resolver-rules", o.HostResolverRules))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first Do starts the browser, whose life is that of ctx: no
	// timeout here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// ChromiumLocation is the URL the browser tab of ctx is at.
func ChromiumLocation(t testing.TB, ctx context.Context) *url.URL {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// SPKIHash is the base64 SHA-256 of the public key of the PEM certificate
// in certFile, the form Chromium's ignore-certificate-errors-spki-list
// takes.
func SPKIHash(t testing.TB, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
