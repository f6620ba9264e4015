package authn

import (
	"net/http"
	"strings"
	"testing"
)

func TestRequestOrigin(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    originVerdict
	}{
		{"ok-same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, originSame},
		{"ok-typed-url", map[string]string{"Sec-Fetch-Site": "none"}, originSame},
		{"ok-origin-matches-host", map[string]string{"Origin": "https://" + testHost}, originSame},
		{"ok-fetch-metadata-wins-over-origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"}, originSame},
		{"ok-nothing-said", nil, originUnknown},
		{"fail-cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, originCross},
		{"fail-same-site", map[string]string{"Sec-Fetch-Site": "same-site"}, originCross},
		{"fail-cross-site-despite-origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://" + testHost}, originCross},
		{"fail-foreign-origin", map[string]string{"Origin": "https://evil.example"}, originCross},
		{"fail-sibling-origin", map[string]string{"Origin": "https://app." + testHost}, originCross},
		{"fail-other-port", map[string]string{"Origin": "https://" + testHost + ":8443"}, originCross},
		{"fail-null-origin", map[string]string{"Origin": "null"}, originCross},
		{"fail-garbage-origin", map[string]string{"Origin": "::"}, originCross},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := apiRequest(http.MethodPost, "/auth/login", "", "")
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if got := requestOrigin(r); got != tt.want {
				t.Errorf("requestOrigin(%v) = %d; want %d", tt.headers, got, tt.want)
			}
		})
	}
}

// TestCSRFKey: the key comes from the signing key (tokens.TestDerivedKey),
// so instances sharing it accept each other's forms, and others do not.
func TestCSRFKey(t *testing.T) {
	a := sqliteService(t, nil)
	b := sqliteService(t, nil) // another database, the same tokens.secret
	c := sqliteService(t, func(c *stackConfig) { c.Tokens.Secret = "a-different-secret-0123456789ABCDEFG" })
	cookie := strings.Repeat("x", csrfCookieEncoded)
	if a.csrfToken(cookie) != b.csrfToken(cookie) {
		t.Errorf("two instances with one signing key disagree on the CSRF token")
	}
	if a.csrfToken(cookie) == c.csrfToken(cookie) {
		t.Errorf("instances with different signing keys agree on the CSRF token")
	}
	// A form from a's page is accepted by b.
	res, token, _ := loginPage(t, a.Handler(), "/auth/login")
	r := browserPost("/auth/login", nil, cookieNamed(res, "__Host-authgate-csrf"))
	if !b.validCSRF(r, token) {
		t.Errorf("instance b refuses the CSRF token of instance a's page")
	}
	if c.validCSRF(r, token) {
		t.Errorf("an instance with another signing key accepts the token")
	}
}
