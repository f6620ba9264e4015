package authn

import (
	"net/http"
	"testing"
)

// TestPlantedRefreshCookie: the refresh cookie is __Secure-, not __Host-,
// so a sibling subdomain (evil.example.com) can set one for the whole
// site, Domain=example.com. Planting the attacker's own session's refresh
// cookie must never sign the victim's browser in as the attacker (login
// CSRF): a browser refresh is bound to the session of the __Host- access
// cookie, which no sibling can set, and a navigation from another site
// never establishes a session at all.
func TestPlantedRefreshCookie(t *testing.T) {
	s := sqliteService(t, nil)
	h := checkedHandler(t, s)
	mustRegisterAPI(t, h, "bob", browserPassword)
	mustRegisterAPI(t, h, "eve", browserPassword)
	eve := browserLoginCookies(t, s, h, "eve") // the attacker's own session
	bob := browserLoginCookies(t, s, h, "bob") // the victim's
	planted := eve.refresh

	request := func(method, site string, cookies ...*http.Cookie) *http.Request {
		r := withCookies(apiRequest(method, "/auth/refresh?rd=%2Fapp", "", ""), cookies...)
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		return r
	}
	noSession := func(t *testing.T, res *http.Response) {
		t.Helper()
		for _, c := range res.Cookies() {
			if c.Name == "__Host-authgate" {
				t.Errorf("Set-Cookie %s; want the access cookie left alone", c)
			}
		}
	}

	for _, tt := range []struct {
		name    string
		site    string // Sec-Fetch-Site
		cookies []*http.Cookie
	}{
		{"fail-cross-site", "cross-site", []*http.Cookie{planted}},
		{"fail-same-site-sibling", "same-site", []*http.Cookie{planted}},
		{"fail-same-origin-no-access-cookie", "same-origin", []*http.Cookie{planted}},
		{"fail-typed-no-access-cookie", "none", []*http.Cookie{planted}},
		{"fail-no-fetch-metadata-no-access-cookie", "", []*http.Cookie{planted}},
		{"fail-same-origin-victims-access-cookie", "same-origin", []*http.Cookie{bob.access, planted}},
		{"fail-same-site-victims-cookies", "same-site", []*http.Cookie{bob.access, bob.refresh, planted}},
		{"fail-cross-site-attackers-cookies", "cross-site", []*http.Cookie{eve.access, planted}},
	} {
		t.Run("GET/"+tt.name, func(t *testing.T) {
			res, body := serve(t, h, request(http.MethodGet, tt.site, tt.cookies...))
			wantStatus(t, tt.name, res, body, http.StatusFound)
			if loc := res.Header.Get("Location"); loc != "/auth/login?rd=%2Fapp" {
				t.Errorf("Location %q; want the login page", loc)
			}
			noSession(t, res)
		})
	}

	// The app's own script, same-origin, refreshing with the cookie.
	for _, tt := range []struct {
		name    string
		cookies []*http.Cookie
	}{
		{"fail-no-access-cookie", []*http.Cookie{planted}},
		{"fail-victims-access-cookie", []*http.Cookie{bob.access, planted}},
	} {
		t.Run("POST/"+tt.name, func(t *testing.T) {
			res, body := serve(t, h, request(http.MethodPost, "same-origin", tt.cookies...))
			wantStatus(t, tt.name, res, body, http.StatusUnauthorized)
			noSession(t, res)
		})
	}

	// Beside a planted cookie, the browser's own refresh cookie still
	// renews its own session.
	t.Run("GET/ok-own-cookie-beside-planted", func(t *testing.T) {
		res, body := serve(t, h, request(http.MethodGet, "same-origin", bob.access, planted, bob.refresh))
		wantStatus(t, "own refresh cookie beside a planted one", res, body, http.StatusSeeOther)
		access, _ := wantSessionCookies(t, "own refresh cookie beside a planted one", res, s)
		if id := mustVerify(t, s, access.Value); id.Username != "bob" {
			t.Errorf("renewed as %q; want bob", id.Username)
		}
	})
	// None of the refused attempts used up the attacker's token: it was
	// never rotated in the victim's browser.
	t.Run("GET/ok-attackers-own-browser", func(t *testing.T) {
		res, body := serve(t, h, request(http.MethodGet, "same-origin", eve.access, eve.refresh))
		wantStatus(t, "the attacker's own browser", res, body, http.StatusSeeOther)
		wantSessionCookies(t, "the attacker's own browser", res, s)
	})
}
