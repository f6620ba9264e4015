package provider

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRPInitiatedLogout: with the client's ID token as hint, the client's
// session and the browser's end, and the browser goes back to the client;
// without one, authgate's logout page asks. A post_logout_redirect_uri
// off the client's origins is refused, never followed.
func TestRPInitiatedLogout(t *testing.T) {
	h := newHarness(t)
	cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
	tok := jsonBody(t, h.exchange(t, h.code(t, authorizeQuery("webapp", webRedirect, ""), cookie), "webapp", webSecret, webRedirect, ""))
	idToken := tok["id_token"].(string)
	info, err := h.accounts.Inspect(t.Context(), tok["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}

	refusals := []struct {
		name string
		q    url.Values
	}{
		{name: "fail-other-origin", q: url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/bye"}}},
		{name: "fail-other-port", q: url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://app.example.test:8443/bye"}}},
		{name: "fail-no-client", q: url.Values{"post_logout_redirect_uri": {"https://app.example.test/bye"}}},
		{name: "fail-client-not-audience", q: url.Values{"id_token_hint": {idToken}, "client_id": {"thirdparty"}}},
		{name: "fail-forged-hint", q: url.Values{"id_token_hint": {idToken[:len(idToken)-4] + "AAAA"}}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.get(t, "/auth/oauth2/logout?"+tt.q.Encode(), cookie)
			if resp.Header.Get("Location") != "" {
				t.Fatalf("logout redirected to %q; want a refusal", resp.Header.Get("Location"))
			}
			wantError(t, resp, http.StatusBadRequest, "invalid_request")
			if h.accounts.revoked(info.SessionID) {
				t.Fatal("a refused logout ended the session")
			}
		})
	}

	t.Run("ok-without-hint-asks", func(t *testing.T) {
		q := url.Values{"client_id": {"webapp"}, "post_logout_redirect_uri": {"https://app.example.test/bye"}}
		resp := h.get(t, "/auth/oauth2/logout?"+q.Encode(), cookie)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Path != "/auth/logout" || loc.Query().Get("rd") != "https://app.example.test/bye" {
			t.Fatalf("logout without a hint = %d %s; want the logout page", resp.StatusCode, loc)
		}
		if h.accounts.revoked(info.SessionID) {
			t.Fatal("a logout without proof ended the session")
		}
	})

	q := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://app.example.test/bye"}, "state": {"s-9"}}
	resp := h.get(t, "/auth/oauth2/logout?"+q.Encode(), cookie)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "https://app.example.test/bye?state=s-9" {
		t.Fatalf("logout = %d %q; want a redirect to the post-logout URI with state", resp.StatusCode, loc)
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, browserCookie+"=;") {
		t.Fatalf("Set-Cookie = %q; want the browser session cleared", sc)
	}
	if !h.accounts.revoked(info.SessionID) {
		t.Fatal("the client's session is still alive after logout")
	}
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	if _, err := h.accounts.SignedIn(req); err == nil {
		t.Fatal("the browser is still signed in after logout")
	}
}
