package provider

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consentForm follows a redirect to the consent page, checks the page's
// protections and returns the fields its form posts.
func (h *harness) consentForm(t *testing.T, resp *http.Response, cookie *http.Cookie) url.Values {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/auth/oauth2/consent?") {
		t.Fatalf("authorize = %d %q; want a redirect to the consent page", resp.StatusCode, loc)
	}
	page := h.get(t, loc, cookie)
	body, _ := io.ReadAll(page.Body)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("consent page = %d %s", page.StatusCode, body)
	}
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || page.Header.Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(csp, "form-action 'self' https://third.example.test") {
		t.Fatalf("consent page headers CSP %q XFO %q; want it unframable, posting to us and the client", csp, page.Header.Get("X-Frame-Options"))
	}
	if !strings.Contains(string(body), "Know that it is you") || !strings.Contains(string(body), "<strong>alice</strong>") {
		t.Fatalf("consent page does not name the user and scopes:\n%s", body)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(body), -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if form.Get("consent_ticket") == "" || form.Get("client_id") != "thirdparty" {
		t.Fatalf("consent form fields %v; want the request and a ticket", form)
	}
	return form
}

// TestConsent: a third-party client gets a code only after the user
// allows it, once per set of scopes; the answer counts only with a valid
// ticket for this user and request.
func TestConsent(t *testing.T) {
	h := newHarness(t)
	alice := h.accounts.signIn(h.alice.ID, h.clock.Now())
	q := authorizeQuery("thirdparty", thirdRedirect, "")
	authorize := func(q url.Values, c *http.Cookie) *http.Response {
		return h.get(t, "/auth/oauth2/authorize?"+q.Encode(), c)
	}

	t.Run("fail-prompt-none", func(t *testing.T) {
		q := authorizeQuery("thirdparty", thirdRedirect, "")
		q.Set("prompt", "none")
		got := redirected(t, authorize(q, alice), thirdRedirect)
		if got.Get("error") != "consent_required" || got.Has("code") {
			t.Fatalf("prompt=none without consent: %v; want error=consent_required", got)
		}
	})

	t.Run("fail-deny", func(t *testing.T) {
		form := h.consentForm(t, authorize(q, alice), alice)
		form.Set("consent", "deny")
		got := redirected(t, h.post(t, "/auth/oauth2/authorize", form, "", "", alice), thirdRedirect)
		if got.Get("error") != "access_denied" || got.Has("code") || got.Get("iss") != h.issuer {
			t.Fatalf("deny: %v; want error=access_denied with iss", got)
		}
	})

	form := h.consentForm(t, authorize(q, alice), alice)

	t.Run("fail-answer-by-get", func(t *testing.T) {
		g := url.Values{}
		for k, v := range form {
			g[k] = v
		}
		g.Set("consent", "allow")
		h.consentForm(t, authorize(g, alice), alice) // asked again: a link cannot consent
	})

	t.Run("fail-ticket-of-another-user", func(t *testing.T) {
		h.accounts.addUser("7", "bob", "bob-password")
		bob := h.accounts.signIn("7", h.clock.Now())
		f := cloneValues(form)
		f.Set("consent", "allow")
		resp := h.post(t, "/auth/oauth2/authorize", f, "", "", bob)
		if !strings.HasPrefix(resp.Header.Get("Location"), "/auth/oauth2/consent?") {
			t.Fatalf("bob posting alice's ticket: Location %q; want the consent page again", resp.Header.Get("Location"))
		}
	})

	t.Run("fail-ticket-for-fewer-scopes", func(t *testing.T) {
		small := h.consentForm(t, authorize(func() url.Values { v := cloneValues(q); v.Set("scope", "openid"); return v }(), alice), alice)
		small.Set("scope", "openid profile email roles")
		small.Set("consent", "allow")
		resp := h.post(t, "/auth/oauth2/authorize", small, "", "", alice)
		if !strings.HasPrefix(resp.Header.Get("Location"), "/auth/oauth2/consent?") {
			t.Fatalf("a ticket for openid used for more: Location %q; want the consent page again", resp.Header.Get("Location"))
		}
	})

	t.Run("fail-expired-page", func(t *testing.T) {
		resp := h.get(t, "/auth/oauth2/consent?client_id=thirdparty&redirect_uri="+url.QueryEscape(thirdRedirect)+"&scope=openid&consent_ticket=forged", alice)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("consent page with a forged ticket = %d; want 400", resp.StatusCode)
		}
	})

	form.Set("consent", "allow")
	code := redirected(t, h.post(t, "/auth/oauth2/authorize", form, "", "", alice), thirdRedirect).Get("code")
	if resp := h.exchange(t, code, "thirdparty", thirdSecret, thirdRedirect, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange after consent = %d %v", resp.StatusCode, jsonBody(t, resp))
	}
	// Remembered: the next authorization needs no page, unless asked.
	h.code(t, q, alice)
	again := cloneValues(q)
	again.Set("prompt", "consent")
	h.consentForm(t, authorize(again, alice), alice)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
