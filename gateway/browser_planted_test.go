package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pBrowserPlantedRefresh: a refresh cookie planted in the browser — a
// sibling subdomain can set one for the whole site, with Domain= and the
// SameSite it likes — holding the attacker's own session never signs the
// browser in: not when a page on another site sends it to /auth/refresh,
// nor when it goes there itself without a session of its own.
func pBrowserPlantedRefresh(t *testing.T, browser context.Context, g *pGateway, eve pUser) {
	ctx := pTab(t, browser)
	planted := g.login(t, eve).RefreshToken
	yes := true
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: "__Secure-authgate-refresh", Value: planted, URL: g.base + "/auth/refresh", Path: "/auth/refresh",
		Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteLax,
	}); err != nil {
		t.Fatal(err)
	}
	const rd = "/app/x"
	target := g.base + "/auth/refresh?rd=" + url.QueryEscape(rd)
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><a id="go" href="%s">go</a>`, target)
	}))
	t.Cleanup(foreign.Close)

	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"a link on another site", func() error {
			return chromedp.Do(ctx, chromedp.Navigate(foreign.URL), chromedp.Click(chromedp.ID("go")), chromedp.WaitVisible(chromedp.ID("username")))
		}},
		{"typed", func() error {
			return chromedp.Do(ctx, chromedp.Navigate(target), chromedp.WaitVisible(chromedp.ID("username")))
		}},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		pCheckOnLoginPage(t, ctx, rd)
		if c, ok := pBrowserCookies(t, ctx, g)["__Host-authgate"]; ok {
			t.Fatalf("%s: the browser got a session cookie (%d bytes) from the planted refresh cookie", step.name, len(c.Value))
		}
	}
	// The planted token was never rotated: the attacker still holds it.
	var pair pTokens
	if resp := g.postJSON(t, "/auth/refresh", map[string]string{"refresh_token": planted}, &pair); resp.StatusCode != http.StatusOK {
		t.Errorf("the attacker's refresh token after the attempts: %d; want still live", resp.StatusCode)
	}
}
