package provider

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAuthorizeRefusesUnregisteredRedirects: a redirect_uri that is not
// registered, byte for byte, is answered to the user and never redirected
// to (RFC 6749 §4.1.2.1, RFC 9700 §4.1.3): no open redirect, no code.
func TestAuthorizeRefusesUnregisteredRedirects(t *testing.T) {
	h := newHarness(t)
	cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
	tests := []struct{ name, redirect string }{
		{name: "fail-one-character", redirect: "https://app.example.test/callbacK"},
		{name: "fail-trailing-slash", redirect: webRedirect + "/"},
		{name: "fail-other-host", redirect: "https://evil.example/callback"},
		{name: "fail-suffix-host", redirect: "https://app.example.test.evil.example/callback"},
		{name: "fail-userinfo", redirect: "https://app.example.test@evil.example/callback"},
		{name: "fail-dot-segments", redirect: webRedirect + "/../../evil"},
		{name: "fail-added-query", redirect: webRedirect + "?next=https://evil.example"},
		{name: "fail-fragment", redirect: webRedirect + "#x"},
		{name: "fail-case", redirect: "HTTPS://APP.EXAMPLE.TEST/callback"},
		{name: "fail-explicit-port", redirect: "https://app.example.test:443/callback"},
		{name: "fail-scheme-relative", redirect: "//evil.example/callback"},
		{name: "fail-javascript", redirect: "javascript:alert(1)"},
		{name: "fail-http-downgrade", redirect: "http://app.example.test/callback"},
		{name: "fail-encoded", redirect: "https://app.example.test/%63allback"},
		{name: "fail-missing", redirect: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.accounts.sessionCount()
			q := authorizeQuery("webapp", tt.redirect, "")
			resp := h.get(t, "/auth/oauth2/authorize?"+q.Encode(), cookie)
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Fatalf("authorize redirected to %q; want no redirect", loc)
			}
			wantError(t, resp, http.StatusBadRequest, "invalid_request")
			h.wantNothingIssued(t, before)
		})
	}
	t.Run("fail-loopback-other-port", func(t *testing.T) {
		// RFC 8252 §7.3 lets a native app's loopback port vary; authgate
		// matches exactly, so a registered port is the only one.
		q := authorizeQuery("spa", "http://127.0.0.1:9999/cb", s256(testVerifier))
		resp := h.get(t, "/auth/oauth2/authorize?"+q.Encode(), cookie)
		if resp.Header.Get("Location") != "" {
			t.Fatalf("authorize redirected to %q; want no redirect", resp.Header.Get("Location"))
		}
		wantError(t, resp, http.StatusBadRequest, "invalid_request")
	})
	t.Run("fail-unknown-client", func(t *testing.T) {
		q := authorizeQuery("nobody", webRedirect, "")
		resp := h.get(t, "/auth/oauth2/authorize?"+q.Encode(), cookie)
		if resp.Header.Get("Location") != "" {
			t.Fatalf("authorize for an unknown client redirected to %q", resp.Header.Get("Location"))
		}
		wantError(t, resp, http.StatusBadRequest, "invalid_request")
	})
}

// TestAuthorizeErrorsReachTheClient: once the redirect_uri is known good,
// a refused request goes back to the client with the RFC's error, state
// and iss, and no code.
func TestAuthorizeErrorsReachTheClient(t *testing.T) {
	h := newHarness(t)
	cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
	tests := []struct {
		name   string
		client string
		mutate func(url.Values)
		want   string
	}{
		{name: "fail-implicit", client: "webapp", mutate: func(q url.Values) { q.Set("response_type", "token") }, want: "unsupported_response_type"},
		{name: "fail-hybrid", client: "webapp", mutate: func(q url.Values) { q.Set("response_type", "code id_token") }, want: "unsupported_response_type"},
		{name: "fail-public-without-pkce", client: "spa", mutate: func(q url.Values) {}, want: "invalid_request"},
		{name: "fail-pkce-plain", client: "spa", mutate: func(q url.Values) {
			q.Set("code_challenge", testVerifier)
			q.Set("code_challenge_method", "plain")
		}, want: "invalid_request"},
		{name: "fail-pkce-no-method", client: "spa", mutate: func(q url.Values) { q.Set("code_challenge", s256(testVerifier)) }, want: "invalid_request"},
		{name: "fail-pkce-malformed", client: "webapp", mutate: func(q url.Values) {
			q.Set("code_challenge", "short")
			q.Set("code_challenge_method", "S256")
		}, want: "invalid_request"},
		{name: "fail-no-allowed-scope", client: "webapp", mutate: func(q url.Values) { q.Set("scope", "admin:everything") }, want: "invalid_scope"},
		{name: "fail-request-object", client: "webapp", mutate: func(q url.Values) { q.Set("request", "e30.e30.") }, want: "request_not_supported"},
		{name: "fail-request-uri", client: "webapp", mutate: func(q url.Values) { q.Set("request_uri", "https://evil.example/r") }, want: "request_uri_not_supported"},
		{name: "fail-response-mode", client: "webapp", mutate: func(q url.Values) { q.Set("response_mode", "form_post") }, want: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.accounts.sessionCount()
			redirect := map[string]string{"webapp": webRedirect, "spa": spaRedirect}[tt.client]
			q := authorizeQuery(tt.client, redirect, "")
			tt.mutate(q)
			resp := h.get(t, "/auth/oauth2/authorize?"+q.Encode(), cookie)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			got := loc.Query()
			if loc.RawQuery == "" && loc.Fragment != "" {
				got, _ = url.ParseQuery(loc.Fragment) // an implicit response type answers in the fragment
			}
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), redirect) ||
				got.Get("error") != tt.want || got.Get("state") != "st-123" || got.Get("iss") != h.issuer || got.Has("code") {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("authorize = %d %s %s; want a redirect with error=%s, state and iss, no code", resp.StatusCode, loc, b, tt.want)
			}
			h.wantNothingIssued(t, before)
		})
	}
}

// TestCodeExchangeRefusals: every way a token request can misuse a code
// is invalid_grant or invalid_request (RFC 6749 §5.2, RFC 7636 §4.6), and
// issues nothing.
func TestCodeExchangeRefusals(t *testing.T) {
	h := newHarness(t)
	cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
	spaCode := func(t *testing.T) string {
		return h.code(t, authorizeQuery("spa", spaRedirect, s256(testVerifier)), cookie)
	}
	webCode := func(t *testing.T) string { return h.code(t, authorizeQuery("webapp", webRedirect, ""), cookie) }
	tests := []struct {
		name   string
		send   func(t *testing.T) *http.Response
		status int
		want   string
	}{
		{name: "fail-verifier-missing", send: func(t *testing.T) *http.Response {
			return h.exchange(t, spaCode(t), "spa", "", spaRedirect, "")
		}, status: http.StatusBadRequest, want: "invalid_request"},
		{name: "fail-verifier-wrong", send: func(t *testing.T) *http.Response {
			return h.exchange(t, spaCode(t), "spa", "", spaRedirect, testVerifier+"x")
		}, status: http.StatusBadRequest, want: "invalid_grant"},
		{name: "fail-verifier-without-challenge", send: func(t *testing.T) *http.Response {
			return h.exchange(t, webCode(t), "webapp", webSecret, webRedirect, testVerifier)
		}, status: http.StatusBadRequest, want: "invalid_request"},
		{name: "fail-redirect-one-character", send: func(t *testing.T) *http.Response {
			return h.exchange(t, webCode(t), "webapp", webSecret, "https://app.example.test/callbacK", "")
		}, status: http.StatusBadRequest, want: "invalid_grant"},
		{name: "fail-other-client", send: func(t *testing.T) *http.Response {
			return h.exchange(t, webCode(t), "thirdparty", thirdSecret, webRedirect, "")
		}, status: http.StatusBadRequest, want: "invalid_grant"},
		{name: "fail-public-code-to-confidential", send: func(t *testing.T) *http.Response {
			return h.exchange(t, spaCode(t), "webapp", webSecret, spaRedirect, testVerifier)
		}, status: http.StatusBadRequest, want: "invalid_grant"},
		{name: "fail-expired", send: func(t *testing.T) *http.Response {
			code := webCode(t)
			h.clock.Advance(codeTTL + time.Second)
			return h.exchange(t, code, "webapp", webSecret, webRedirect, "")
		}, status: http.StatusBadRequest, want: "invalid_grant"},
		{name: "fail-unknown-code", send: func(t *testing.T) *http.Response {
			return h.exchange(t, "no-such-code", "webapp", webSecret, webRedirect, "")
		}, status: http.StatusBadRequest, want: "invalid_grant"},
		{name: "fail-wrong-secret", send: func(t *testing.T) *http.Response {
			return h.exchange(t, webCode(t), "webapp", webSecret+"x", webRedirect, "")
		}, status: http.StatusUnauthorized, want: "invalid_client"},
		{name: "fail-wrong-bcrypt-secret", send: func(t *testing.T) *http.Response {
			return h.exchange(t, webCode(t), "thirdparty", webSecret, webRedirect, "")
		}, status: http.StatusUnauthorized, want: "invalid_client"},
		{name: "fail-public-with-secret", send: func(t *testing.T) *http.Response {
			return h.exchange(t, spaCode(t), "spa", "anything-at-all", spaRedirect, testVerifier)
		}, status: http.StatusUnauthorized, want: "invalid_client"},
		{name: "fail-wrong-secret-post", send: func(t *testing.T) *http.Response {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {webCode(t)}, "redirect_uri": {webRedirect},
				"client_id": {"webapp"}, "client_secret": {"wrong"}}
			return h.post(t, "/auth/oauth2/token", form, "", "", nil)
		}, status: http.StatusUnauthorized, want: "invalid_client"},
		{name: "fail-secret-in-query", send: func(t *testing.T) *http.Response {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {webCode(t)}, "redirect_uri": {webRedirect}, "client_id": {"webapp"}}
			return h.post(t, "/auth/oauth2/token?client_secret="+url.QueryEscape(webSecret), form, "", "", nil)
		}, status: http.StatusBadRequest, want: "invalid_request"},
		{name: "fail-grant-not-allowed", send: func(t *testing.T) *http.Response {
			form := url.Values{"grant_type": {"client_credentials"}}
			return h.post(t, "/auth/oauth2/token", form, "webapp", webSecret, nil)
		}, status: http.StatusBadRequest, want: "unauthorized_client"},
		{name: "fail-password-grant-not-allowed", send: func(t *testing.T) *http.Response {
			form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}
			return h.post(t, "/auth/oauth2/token", form, "webapp", webSecret, nil)
		}, status: http.StatusBadRequest, want: "unauthorized_client"},
		{name: "fail-unknown-grant", send: func(t *testing.T) *http.Response {
			form := url.Values{"grant_type": {"implicit"}}
			return h.post(t, "/auth/oauth2/token", form, "webapp", webSecret, nil)
		}, status: http.StatusBadRequest, want: "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.accounts.sessionCount()
			resp := tt.send(t)
			wantError(t, resp, tt.status, tt.want)
			if tt.status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("401 without WWW-Authenticate: Basic (RFC 6749 §5.2)")
			}
			if cc := resp.Header.Get("Cache-Control"); tt.status != http.StatusUnauthorized && cc == "public" {
				t.Fatalf("Cache-Control %q on a token error", cc)
			}
			h.wantNothingIssued(t, before)
		})
	}
}

// TestCodeUsedTwice: a second redemption fails and revokes the tokens the
// first produced (RFC 6749 §4.1.2).
func TestCodeUsedTwice(t *testing.T) {
	h := newHarness(t)
	cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
	code := h.code(t, authorizeQuery("webapp", webRedirect, ""), cookie)
	first := jsonBody(t, h.exchange(t, code, "webapp", webSecret, webRedirect, ""))
	access, _ := first["access_token"].(string)
	if access == "" {
		t.Fatalf("first exchange = %v; want tokens", first)
	}
	before := h.accounts.sessionCount()
	wantError(t, h.exchange(t, code, "webapp", webSecret, webRedirect, ""), http.StatusBadRequest, "invalid_grant")
	h.wantNothingIssued(t, before)
	intro := jsonBody(t, h.post(t, "/auth/oauth2/introspect", url.Values{"token": {access}}, "webapp", webSecret, nil))
	if intro["active"] != false {
		t.Fatalf("introspection of the first exchange's access token = %v; want active: false", intro)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}}
	wantError(t, h.post(t, "/auth/oauth2/token", refresh, "webapp", webSecret, nil), http.StatusBadRequest, "invalid_grant")
}

// TestWrongSecretLeavesTheCode: a failed client authentication happens
// before the code is looked at, so it cannot be used to burn a code.
func TestWrongSecretLeavesTheCode(t *testing.T) {
	h := newHarness(t)
	cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
	code := h.code(t, authorizeQuery("webapp", webRedirect, ""), cookie)
	wantError(t, h.exchange(t, code, "webapp", "wrong", webRedirect, ""), http.StatusUnauthorized, "invalid_client")
	if resp := h.exchange(t, code, "webapp", webSecret, webRedirect, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange after a failed client authentication = %d %v; want 200", resp.StatusCode, jsonBody(t, resp))
	}
}

// TestTokenEndpointIsPOSTOnly: credentials never travel in a URL (RFC
// 6749 §3.2).
func TestTokenEndpointIsPOSTOnly(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/auth/oauth2/token", "/auth/oauth2/introspect", "/auth/oauth2/revoke"} {
		resp := h.get(t, path+"?grant_type=client_credentials&client_id=service&client_secret="+serviceSecret, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s = %d; want 405", path, resp.StatusCode)
		}
	}
}

// TestCORSNeverAllowsCredentials: any origin may call the token endpoint
// (a single-page app), but no cross-origin request is ever answered with
// credentials allowed: zitadel's default would reflect every origin with
// Access-Control-Allow-Credentials, letting any site read what a
// signed-in browser gets from the authorization endpoint.
func TestCORSNeverAllowsCredentials(t *testing.T) {
	h := newHarness(t)
	cookie := h.accounts.signIn(h.alice.ID, h.clock.Now())
	for _, path := range []string{"/auth/oauth2/token", "/auth/oauth2/authorize?" + authorizeQuery("webapp", webRedirect, "").Encode()} {
		req, _ := http.NewRequest(http.MethodOptions, h.issuer+path, nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.AddCookie(cookie)
		pre := h.do(t, req)
		get, _ := http.NewRequest(http.MethodGet, h.issuer+path, nil)
		get.Header.Set("Origin", "https://evil.example")
		get.AddCookie(cookie)
		for _, resp := range []*http.Response{pre, h.do(t, get)} {
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" || resp.Header.Get("Access-Control-Allow-Origin") == "https://evil.example" {
				t.Errorf("%s %s: CORS headers %v; want no credentials and no reflected origin", resp.Request.Method, path, resp.Header)
			}
		}
	}
}
