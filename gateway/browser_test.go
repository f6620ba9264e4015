package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/testenv"
)

// The browser tests drive a real headless Chromium through the gateway:
// the login flow from a protected page and back, logout, and the Swagger
// UI. One browser serves both; each subtest gets its own browser context
// (its own cookie jar).

// pBrowserTimeout bounds each browser subtest, so that a page that never
// shows what is awaited fails the test instead of hanging it. It is a
// guard, not a measurement: the steps take well under a second each.
const pBrowserTimeout = 60 * time.Second

func TestBrowserLoginAndSwaggerUI(t *testing.T) {
	testenv.RequireChromium(t)
	b := pStartBackend(t)
	gw, cfgFile := pConfig(t, fmt.Sprintf(`  - name: app
    path: /app
    auth: required
    upstream: %s
`, b.URL()), "")
	g := pStartGateway(t, gw, cfgFile)
	alice := g.register(t, "alice")
	browser := testenv.Chromium(t, testenv.ChromiumOptions{TrustCerts: []string{filepath.Join(gw.dir, "certs", "selfsigned.crt")}})

	t.Run("ok-login-logout", func(t *testing.T) { pBrowserLoginLogout(t, browser, g, b, alice) })
	t.Run("fail-planted-refresh-cookie", func(t *testing.T) { pBrowserPlantedRefresh(t, browser, g, g.register(t, "eve")) })
	t.Run("ok-swagger-ui", func(t *testing.T) { pBrowserSwaggerUI(t, browser, g) })
}

// pTab opens a tab in a new browser context (a fresh cookie jar) and
// returns a context bounded by pBrowserTimeout for its actions.
func pTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	tab, cancelTab := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, pBrowserTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pOpenProtected opens page, a path on the gateway, in the tab and checks
// that the browser is sent to the login page, to come back to page.
func pOpenProtected(t *testing.T, ctx context.Context, g *pGateway, page string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(g.base+page)); err != nil {
		t.Fatalf("opening %s: %v", page, err)
	}
	pCheckOnLoginPage(t, ctx, page)
}

// pCheckOnLoginPage checks that the tab shows the login page, sent there
// to come back to rd.
func pCheckOnLoginPage(t *testing.T, ctx context.Context, rd string) {
	t.Helper()
	u := testenv.ChromiumLocation(t, ctx)
	if u.Path != "/auth/login" || u.Query().Get("rd") != rd {
		t.Fatalf("browser is at %s; want /auth/login?rd=%s", u, url.QueryEscape(rd))
	}
}

// pLoginFormProblem is a script that checks the login form is usable by
// everyone: every visible field has a label, the password field hides
// what is typed. It returns "" or what is wrong.
const pLoginFormProblem = `(() => {
	const f = document.querySelector('form[action="/auth/login"]');
	if (!f) return "no form posting to /auth/login";
	for (const i of f.querySelectorAll('input:not([type=hidden])')) {
		if (!i.labels || i.labels.length === 0 || i.labels[0].textContent.trim() === "") return "field " + i.name + " has no label";
	}
	const u = document.getElementById("username"), p = document.getElementById("password");
	if (!u || !p || u.form !== f || p.form !== f) return "username or password field missing";
	if (p.type !== "password") return "password field has type " + p.type;
	if (u.labels[0].textContent.trim() !== "Username" || p.labels[0].textContent.trim() !== "Password") return "labels read " + u.labels[0].textContent + ", " + p.labels[0].textContent;
	return "";
})()`

// pBrowserLoginLogout: a protected page sends the browser to the login
// page; signing in brings it back to the very page and query, as alice;
// the session cookies have the attributes they promise; signing out ends
// the session on the server, and the page asks for a login again.
func pBrowserLoginLogout(t *testing.T, browser context.Context, g *pGateway, b *pBackend, alice pUser) {
	ctx := pTab(t, browser)
	w := pWatchTab(t, ctx)
	const page = "/app/page?x=1"

	pOpenProtected(t, ctx, g, page)
	problem, err := chromedp.Run(ctx, chromedp.Evaluate[string](pLoginFormProblem))
	if err != nil {
		t.Fatal(err)
	}
	if problem != "" {
		t.Errorf("login form: %s", problem)
	}

	before := b.count()
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("username"), alice.Username),
		chromedp.SendKeys(chromedp.ID("password"), alice.Password),
		chromedp.Click(chromedp.CSS(`form[action="/auth/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("x-auth-user")),
	); err != nil {
		t.Fatalf("signing in: %v", err)
	}
	if u := testenv.ChromiumLocation(t, ctx); u.RequestURI() != page || u.Host != g.host {
		t.Errorf("after login the browser is at %s; want %s%s", u, g.base, page)
	}
	user, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("x-auth-user")))
	if err != nil {
		t.Fatal(err)
	}
	if user != "alice" {
		t.Errorf("the page shows X-Auth-User %q; want alice", user)
	}
	seen := b.since(before)
	if len(seen) != 1 || seen[0].RequestURI != page {
		t.Fatalf("backend received %d requests after login; want one for %s", len(seen), page)
	}
	for _, c := range seen[0].Cookies {
		if strings.HasPrefix(c.Name, "__Host-") || strings.HasPrefix(c.Name, "__Secure-") {
			t.Errorf("backend got the browser's cookie %s", c.Name)
		}
	}

	cookies := pBrowserCookies(t, ctx, g)
	want := map[string]struct {
		path     string
		sameSite network.CookieSameSite
	}{
		"__Host-authgate":           {"/", network.CookieSameSiteLax},
		"__Secure-authgate-refresh": {"/auth/refresh", network.CookieSameSiteStrict},
		"__Host-authgate-csrf":      {"/", network.CookieSameSiteStrict},
	}
	for name, w := range want {
		c, ok := cookies[name]
		switch {
		case !ok:
			t.Errorf("after login the browser has no cookie %s", name)
		case !c.HTTPOnly || !c.Secure || c.SameSite != w.sameSite || c.Path != w.path || c.Domain != "localhost":
			t.Errorf("cookie %s: HttpOnly %v Secure %v SameSite %q Path %q Domain %q; want HttpOnly, Secure, %q, %q, host-only localhost",
				name, c.HTTPOnly, c.Secure, c.SameSite, c.Path, c.Domain, w.sameSite, w.path)
		}
	}
	session := cookies["__Host-authgate"].Value

	// An access cookie whose JWT has expired is renewed on the way: the
	// browser goes through /auth/refresh, the one path its refresh cookie
	// is sent to, and comes back to the same page without a login form.
	yes := true
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: "__Host-authgate", Value: pExpire(t, session, []byte(testSecret)), URL: g.base + "/", Path: "/",
		Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteLax,
	}); err != nil {
		t.Fatal(err)
	}
	before = b.count()
	if err := chromedp.Do(ctx, chromedp.Navigate(g.base+page), chromedp.WaitVisible(chromedp.ID("x-auth-user"))); err != nil {
		t.Fatalf("opening %s with an expired access cookie: %v", page, err)
	}
	if u := testenv.ChromiumLocation(t, ctx); u.RequestURI() != page {
		t.Errorf("after the refresh the browser is at %s; want %s", u, page)
	}
	if seen := b.since(before); len(seen) != 1 || seen[0].Header.Get("X-Auth-User") != "alice" {
		t.Errorf("backend received %d requests with the expired cookie; want one, as alice", len(seen))
	}
	renewed := pBrowserCookies(t, ctx, g)["__Host-authgate"]
	if renewed == nil || renewed.Value == session {
		t.Fatal("the access cookie was not renewed")
	}
	session = renewed.Value

	// Sign out: GET /auth/logout is a confirmation page, its form a POST.
	if err := chromedp.Do(ctx, chromedp.Navigate(g.base+"/auth/logout")); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "signed in as alice") {
		t.Errorf("logout page says %q; want it to name alice", text)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/auth/logout"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("username")),
	); err != nil {
		t.Fatalf("signing out: %v", err)
	}
	if u := testenv.ChromiumLocation(t, ctx); u.Path != "/auth/login" {
		t.Errorf("after logout the browser is at %s; want /auth/login", u)
	}
	if _, ok := pBrowserCookies(t, ctx, g)["__Host-authgate"]; ok {
		t.Error("after logout the browser still has the session cookie")
	}
	// The session is over on the server too, not only in this browser.
	resp := g.do(t, http.MethodGet, page, nil, [2]string{"Cookie", "__Host-authgate=" + session})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the signed-out session cookie replayed: %d; want 401", resp.StatusCode)
	}

	before = b.count()
	if err := chromedp.Do(ctx, chromedp.Navigate(g.base+page)); err != nil {
		t.Fatal(err)
	}
	pCheckOnLoginPage(t, ctx, page)
	if n := b.count() - before; n != 0 {
		t.Errorf("after logout the backend received %d requests; want none", n)
	}
	w.check(t, g.base+"/auth/login.css")
}

// pBrowserCookies returns the browser's cookies for the gateway, by name.
func pBrowserCookies(t *testing.T, ctx context.Context, g *pGateway) map[string]*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{g.base + "/", g.base + "/auth/refresh"}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

// pTabWatch records what a tab does on the network and what it reports
// as errors: failed loads, Content-Security-Policy violations, uncaught
// exceptions.
type pTabWatch struct {
	mu       sync.Mutex
	requests []string
	problems []string
}

// pWatchTab starts watching the tab of ctx.
func pWatchTab(t *testing.T, ctx context.Context) *pTabWatch {
	t.Helper()
	w := &pTabWatch{}
	err := chromedp.Listen(ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			w.requests = append(w.requests, ev.Request.URL)
		case *log.EventEntryAdded:
			// A browser asks for /favicon.ico on its own. The gateway's
			// pages name no icon, so that request goes to whatever route
			// covers the path (here none: 404): the application's
			// business, not an error of the page.
			if ev.Entry.Level == log.EntryLevelError && !strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
				w.problems = append(w.problems, fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *runtime.EventExceptionThrown:
			w.problems = append(w.problems, "exception: "+ev.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// check fails the test for every request that left localhost and every
// error the tab reported. mustLoad is one URL the tab must have requested,
// so that a watch that saw nothing cannot pass.
func (w *pTabWatch) check(t *testing.T, mustLoad string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	loaded := false
	for _, raw := range w.requests {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			t.Errorf("request to an unparsable URL %q", raw)
		case u.Scheme == "data" || u.Scheme == "blob":
			// Inline: nothing leaves the browser.
		case u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1":
			t.Errorf("the tab made a request to %s; want localhost only", raw)
		}
		loaded = loaded || raw == mustLoad
	}
	if !loaded {
		t.Errorf("no request for %s among %q: the network was not observed", mustLoad, w.requests)
	}
	for _, p := range w.problems {
		t.Errorf("browser console: %s", p)
	}
}
