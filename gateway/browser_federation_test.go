package gateway

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/testenv"
)

// Sign-in through identity providers (issue 13), in a real headless
// Chromium against a real OpenID provider (zitadel/oidc's certified op,
// internal/testenv): the code flow with PKCE from a protected page and
// back, the first sign-in creating the user, roles from a nested claim in
// the identity headers, a role removed at the provider gone after the next
// refresh, and a user disabled there losing the session (its access token
// denylisted). Then the login page with two providers beside the local
// form, as a screenshot.

const fedClientSecret = "fed-client-secret-for-tests"

// fedProviders is the identity_providers section of the browser tests:
// corp, the test provider at issuer, and a GitHub provider that is only
// shown, never used.
func fedProviders(issuer string) string {
	return fmt.Sprintf(`identity_providers:
  - name: corp
    type: oidc
    display_name: Corporate SSO
    issuer: %s
    client_id: authgate
    client_secret: %s
    scopes: [openid, email, profile, offline_access]
    roles_claim: realm_access.roles
    role_map: {app-admin: [admin], viewer: [viewer]}
    end_session: true
  - name: github
    type: github
    client_id: gh-client
    client_secret: gh-secret
    allowed_orgs: [example]
`, issuer, fedClientSecret)
}

func TestBrowserFederatedSignIn(t *testing.T) {
	testenv.RequireChromium(t)
	op := testenv.StartOIDCProvider(t, testenv.OIDCUser{
		ID: "u-carol", Username: "carol", Password: "carol-at-the-provider", Email: "carol@example.com", EmailVerified: true,
		Claims: map[string]any{"realm_access": map[string]any{"roles": []string{"app-admin", "viewer", "offline_access"}}},
	}, testenv.OIDCUser{
		ID: "u-dave", Username: "dave", Password: "dave-at-the-provider", Email: "dave@example.com", EmailVerified: true,
	})
	b := pStartBackend(t)
	gw, cfgFile := pConfig(t, fmt.Sprintf(`  - name: app
    path: /app
    auth: required
    upstream: %s
`, b.URL()), fedProviders(op.Issuer))
	g := pStartGateway(t, gw, cfgFile)
	op.RegisterClient("authgate", fedClientSecret, g.base+"/auth/callback/corp")
	browser := testenv.Chromium(t, testenv.ChromiumOptions{TrustCerts: []string{filepath.Join(gw.dir, "certs", "selfsigned.crt")}})

	t.Run("ok-sign-in-refresh-disable", func(t *testing.T) { fedSignInRefreshDisable(t, browser, g, b, op) })
	t.Run("ok-logout-at-the-provider-too", func(t *testing.T) { fedLogoutAtProvider(t, browser, g, op) })
	t.Run("ok-login-page-screenshot", func(t *testing.T) { fedLoginPageScreenshot(t, browser, g) })
}

func fedSignInRefreshDisable(t *testing.T, browser context.Context, g *pGateway, b *pBackend, op *testenv.OIDCProvider) {
	ctx := pTab(t, browser)
	w := pWatchTab(t, ctx)
	const page = "/app/page?x=1"

	pOpenProtected(t, ctx, g, page)
	before := b.count()
	fedSignInAtProvider(t, ctx, "carol", "carol-at-the-provider")
	if u := testenv.ChromiumLocation(t, ctx); u.RequestURI() != page || u.Host != g.host {
		t.Errorf("after sign-in the browser is at %s; want %s%s", u, g.base, page)
	}
	seen := b.since(before)
	if len(seen) != 1 {
		t.Fatalf("backend received %d requests after sign-in; want 1", len(seen))
	}
	if h := seen[0].Header; h.Get("X-Auth-User") != "carol" || h.Get("X-Auth-Roles") != "admin,viewer" || h.Get("X-Auth-Email") != "carol@example.com" {
		t.Errorf("identity headers after sign-in: user %q roles %q email %q; want carol, admin,viewer, carol@example.com",
			h.Get("X-Auth-User"), h.Get("X-Auth-Roles"), h.Get("X-Auth-Email"))
	}
	for _, c := range seen[0].Cookies {
		if strings.HasPrefix(c.Name, "__Host-") || strings.HasPrefix(c.Name, "__Secure-") {
			t.Errorf("backend got the browser's cookie %s", c.Name)
		}
	}
	cookies := pBrowserCookies(t, ctx, g)
	if _, ok := cookies["__Host-authgate-federation"]; ok {
		t.Error("the sign-in flow cookie outlived the callback")
	}

	// The first sign-in created the user and linked the identity to it.
	pAdmin(t, g.cfgFile, func(ctx context.Context, a *accounts.Service) error {
		ids, err := a.Identities(ctx, "carol")
		if err != nil {
			return err
		}
		if len(ids) != 1 || ids[0].Issuer != op.Issuer || ids[0].Subject != "u-carol" || ids[0].Provider != "corp" {
			t.Errorf("carol's identities = %+v; want one, %s u-carol through corp", ids, op.Issuer)
		}
		var sealed []string
		if err := a.DB().SelectContext(ctx, &sealed, `SELECT refresh_token FROM identity_sessions`); err != nil {
			return err
		}
		if len(sealed) != 1 || !strings.HasPrefix(sealed[0], "v1.") {
			t.Errorf("stored provider refresh tokens = %q; want one, sealed (v1.…)", sealed)
		}
		return nil
	})

	// A role removed at the provider is gone after the next refresh: the
	// access cookie's JWT expires, the gateway sends the browser through
	// {prefix}/refresh, which asks the provider again.
	op.SetClaims("u-carol", map[string]any{"realm_access": map[string]any{"roles": []string{"viewer"}}})
	fedExpireAccessCookie(t, ctx, g)
	before = b.count()
	if err := chromedp.Do(ctx, chromedp.Navigate(g.base+page), chromedp.WaitVisible(chromedp.ID("x-auth-user"))); err != nil {
		t.Fatalf("opening %s with an expired access cookie: %v", page, err)
	}
	seen = b.since(before)
	if len(seen) != 1 || seen[0].Header.Get("X-Auth-Roles") != "viewer" {
		var roles []string
		for _, s := range seen {
			roles = append(roles, s.Header.Get("X-Auth-Roles"))
		}
		t.Fatalf("after the refresh the backend saw roles %q; want one request with viewer", roles)
	}
	session := pBrowserCookies(t, ctx, g)["__Host-authgate"].Value

	// Disabled at the provider: the next refresh ends the session, and
	// its live access token is denylisted.
	op.DisableUser("u-carol")
	fedExpireAccessCookie(t, ctx, g)
	before = b.count()
	if err := chromedp.Do(ctx, chromedp.Navigate(g.base+page), chromedp.WaitVisible(`a#provider-corp`)); err != nil {
		t.Fatalf("opening %s after the provider disabled the user: %v", page, err)
	}
	pCheckOnLoginPage(t, ctx, page)
	if n := b.count() - before; n != 0 {
		t.Errorf("after the provider disabled the user the backend received %d requests; want none", n)
	}
	resp := g.do(t, http.MethodGet, page, nil, [2]string{"Cookie", "__Host-authgate=" + session})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the ended session's last access token: %d; want 401 (denylisted)", resp.StatusCode)
	}
	w.check(t, op.Issuer+"/login/username")
}

// fedExpireAccessCookie replaces the tab's access cookie by the same
// token expired, as if access_ttl had passed.
func fedExpireAccessCookie(t *testing.T, ctx context.Context, g *pGateway) {
	t.Helper()
	c := pBrowserCookies(t, ctx, g)["__Host-authgate"]
	if c == nil {
		t.Fatal("no access cookie to expire")
	}
	yes := true
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: "__Host-authgate", Value: pExpire(t, c.Value, []byte(testSecret)), URL: g.base + "/", Path: "/",
		Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteLax,
	}); err != nil {
		t.Fatal(err)
	}
}

// fedLoginPageScreenshot: the login page shows both providers' buttons
// above the local form, all usable; the screenshot is kept in the test's
// artifact directory (go test -artifacts keeps it).
func fedLoginPageScreenshot(t *testing.T, browser context.Context, g *pGateway) {
	ctx := pTab(t, browser)
	w := pWatchTab(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(g.base+"/app/"), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatal(err)
	}
	const layout = `(() => {
		const links = [...document.querySelectorAll("ul.providers a.provider")];
		const form = document.querySelector('form[action="/auth/login"]');
		if (!form) return "no local form";
		const seen = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
		const out = links.map(a => a.textContent.trim() + " -> " + new URL(a.href).pathname + new URL(a.href).search);
		if (!links.every(seen) || !seen(form)) return "not every button and the form is visible";
		if (links.length && links[links.length-1].getBoundingClientRect().bottom > form.getBoundingClientRect().top) return "the form overlaps the buttons";
		return out.join("; ");
	})()`
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](layout))
	if err != nil {
		t.Fatal(err)
	}
	want := "Sign in with Corporate SSO -> /auth/login/corp?rd=%2Fapp%2F; Sign in with GitHub -> /auth/login/github?rd=%2Fapp%2F"
	if got != want {
		t.Errorf("login page: %s; want %s", got, want)
	}
	problem, err := chromedp.Run(ctx, chromedp.Evaluate[string](pLoginFormProblem))
	if err != nil {
		t.Fatal(err)
	}
	if problem != "" {
		t.Errorf("login form: %s", problem)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	file := filepath.Join(t.ArtifactDir(), "login-two-providers.png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("login page screenshot: %s (%dx%d, %d bytes)", file, img.Bounds().Dx(), img.Bounds().Dy(), len(shot))
	w.check(t, g.base+"/auth/login.css")
}

// fedSignInAtProvider clicks the corp button of the login page the tab
// shows, signs in at the provider's own form, and waits for the backend's
// page.
func fedSignInAtProvider(t *testing.T, ctx context.Context, username, password string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("provider-corp")),
		chromedp.WaitVisible(`form[action="/login/username"]`),
		chromedp.SendKeys(chromedp.ID("username"), username),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(`form[action="/login/username"] button[type=submit]`),
		chromedp.WaitVisible(chromedp.ID("x-auth-user")),
	); err != nil {
		t.Fatalf("signing in at the provider as %s: %v", username, err)
	}
}

// fedLogoutAtProvider: with end_session on, signing out of authgate ends
// the session here and sends the browser on to the provider's
// end_session_endpoint with id_token_hint (RP-Initiated Logout).
func fedLogoutAtProvider(t *testing.T, browser context.Context, g *pGateway, op *testenv.OIDCProvider) {
	ctx := pTab(t, browser)
	ended := make(chan *url.URL, 1)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && strings.HasPrefix(e.Request.URL, op.Issuer+"/end_session") {
			if u, err := url.Parse(e.Request.URL); err == nil {
				select {
				case ended <- u:
				default:
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(g.base+"/app/")); err != nil {
		t.Fatal(err)
	}
	fedSignInAtProvider(t, ctx, "dave", "dave-at-the-provider")
	session := pBrowserCookies(t, ctx, g)["__Host-authgate"].Value
	if err := chromedp.Do(ctx,
		chromedp.Navigate(g.base+"/auth/logout"),
		chromedp.Click(chromedp.CSS(`form[action="/auth/logout"] button[type=submit]`)),
	); err != nil {
		t.Fatalf("signing out: %v", err)
	}
	select {
	case u := <-ended:
		q := u.Query()
		if q.Get("id_token_hint") == "" || q.Get("client_id") != "authgate" || q.Get("post_logout_redirect_uri") != g.base+"/auth/login" {
			t.Errorf("provider logout %s; want id_token_hint, client_id authgate, post_logout_redirect_uri %s/auth/login", u, g.base)
		}
	case <-ctx.Done():
		t.Fatal("signing out never reached the provider's end_session_endpoint")
	}
	resp := g.do(t, http.MethodGet, "/app/", nil, [2]string{"Cookie", "__Host-authgate=" + session})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the signed-out session cookie replayed: %d; want 401", resp.StatusCode)
	}
}
