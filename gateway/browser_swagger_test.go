package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pAuthOperations are the operations the Swagger UI must list.
var pAuthOperations = []string{"POST /auth/register", "POST /auth/login", "POST /auth/refresh", "POST /auth/logout", "GET /auth/me"}

// pRenderedOperations is a script that lists the operations Swagger UI
// rendered, as "METHOD server+path".
const pRenderedOperations = `[...document.querySelectorAll(".opblock")].map(b => {
	const sel = document.querySelector(".servers select");
	const m = b.querySelector(".opblock-summary-method"), p = b.querySelector(".opblock-summary-path");
	const path = p ? (p.getAttribute("data-path") || p.textContent) : "";
	return (m ? m.textContent.trim() : "") + " " + (sel ? sel.value : "") + path;
})`

// pBrowserSwaggerUI: /auth/docs renders the API's operations from our own
// origin alone — no request leaves localhost (no CDN, no font service)
// and the page's Content-Security-Policy is not violated.
func pBrowserSwaggerUI(t *testing.T, browser context.Context, g *pGateway) {
	ctx := pTab(t, browser)
	w := pWatchTab(t, ctx)

	// Swagger UI renders after fetching openapi.json: wait until every
	// operation is on the page. The document's server is the prefix, so
	// the page shows "/auth" once, as the server, and each path below it.
	var checks []string
	for _, op := range pAuthOperations {
		checks = append(checks, fmt.Sprintf("ops.includes(%q)", op))
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(g.base+"/auth/docs"),
		chromedp.WaitVisible(chromedp.CSS(".opblock")),
		chromedp.Poll[chromedp.Void]("(() => { const ops = "+pRenderedOperations+"; return "+strings.Join(checks, " && ")+"; })()",
			chromedp.WithPollingInterval(50*time.Millisecond)),
	); err != nil {
		ops, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](pRenderedOperations))
		t.Fatalf("/auth/docs did not list the operations %q: %v\nrendered: %q", pAuthOperations, err, ops)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"authgate auth API", "Create an account", "Log in", "Rotate a refresh token", "The current user"} {
		if !strings.Contains(text, s) {
			t.Errorf("the docs page does not show %q", s)
		}
	}
	// "Try it out" works from the page (CSP connect-src 'self'), also
	// for the operation whose server is "/" rather than the prefix.
	for _, op := range []struct{ id, wantURL string }{
		{"operations-keys-jwks", g.base + "/auth/jwks.json"},
		{"operations-keys-wellKnownJwks", g.base + "/.well-known/jwks.json"},
	} {
		block := "#" + op.id
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(block+" .opblock-summary-control")),
			chromedp.Click(chromedp.CSS(block+" .try-out__btn")),
			chromedp.Click(chromedp.CSS(block+" .execute")),
			chromedp.WaitVisible(chromedp.CSS(block+" .live-responses-table tbody .response-col_status")),
		); err != nil {
			t.Fatalf("trying %s out: %v", op.id, err)
		}
		reqURL, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(block+" .request-url pre")))
		if err != nil {
			t.Fatal(err)
		}
		status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(block+" .live-responses-table tbody .response-col_status")))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(reqURL) != op.wantURL || strings.TrimSpace(status) != "200" {
			t.Errorf("%s tried out: request URL %q, status %q; want %q, 200", op.id, reqURL, status, op.wantURL)
		}
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "swagger-ui.png")
	writeFile(t, file, shot)
	t.Logf("Swagger UI screenshot: %s (%d bytes)", file, len(shot))

	w.check(t, g.base+"/auth/openapi.json")
}
