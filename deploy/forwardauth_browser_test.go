package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/testenv"
)

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
	o := testenv.ChromiumOptions{
		// The example hosts are the ingress on loopback.
		HostResolverRules: "MAP *.example.com 127.0.0.1",
	}
	if certFile != "" {
		o.TrustCerts = []string{certFile}
	} else {
		o.SecureOrigins = []string{in.url("auth.example.com", ""), in.url("app.example.com", "")}
	}
	browser := testenv.Chromium(t, o)
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	defer cancel()

	original := in.url("app.example.com", "/page/sub?x=1&y=%2F")
	in.backend.take()
	if err := chromedp.Do(ctx, chromedp.Navigate(original), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("opening %s: %v", original, err)
	}
	u := testenv.ChromiumLocation(t, ctx)
	if u.Host != strings.TrimPrefix(in.url("auth.example.com", ""), in.scheme+"://") || u.Path != "/auth/login" || u.Query().Get("rd") != original {
		t.Fatalf("browser is at %s; want the login page on the auth host with rd=%s", u, original)
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
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
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
