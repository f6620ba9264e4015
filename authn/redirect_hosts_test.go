package authn

import "testing"

func TestSafeAbsoluteRedirect(t *testing.T) {
	hosts := []string{"app.example.com", "*.apps.example.com", "127.0.0.1"}
	tests := []struct {
		name string
		rd   string
		want string // "" = refused
	}{
		{"ok-host", "https://app.example.com/x?y=1", "https://app.example.com/x?y=1"},
		{"ok-http", "http://app.example.com/", "http://app.example.com/"},
		{"ok-port", "https://app.example.com:8443/a", "https://app.example.com:8443/a"},
		{"ok-no-path", "https://app.example.com", "https://app.example.com/"},
		{"ok-wildcard-one-label", "https://a.apps.example.com/", "https://a.apps.example.com/"},
		{"ok-ip-listed", "https://127.0.0.1:9/", "https://127.0.0.1:9/"},
		{"fail-other-host", "https://evil.com/", ""},
		{"fail-no-hosts-listed", "https://app.example.com/", ""},
		{"fail-lookalike", "https://app.example.com.evil.com/", ""},
		{"fail-suffix", "https://evilapp.example.com/", ""},
		{"fail-userinfo", "https://app.example.com@evil.com/", ""},
		{"fail-userinfo-colon", "https://app.example.com:x@evil.com/", ""},
		{"fail-backslash", "https://app.example.com\\@evil.com/", ""},
		{"fail-wildcard-two-labels", "https://a.b.apps.example.com/", ""},
		{"fail-wildcard-parent", "https://apps.example.com/", ""},
		{"fail-upper-case-scheme", "HTTPS://app.example.com/", ""},
		{"fail-upper-case-host", "https://APP.example.com/", ""},
		{"fail-encoded-host", "https://app%2Eexample.com/", ""},
		{"fail-javascript", "javascript://app.example.com/%0aalert(1)", ""},
		{"fail-protocol-relative", "//app.example.com/", ""},
		{"fail-double-slash-path", "https://app.example.com//evil.com", ""},
		{"fail-encoded-double-slash-path", "https://app.example.com/%2F%2Fevil.com", ""},
		{"fail-query-first", "https://app.example.com?x", ""},
		{"fail-fragment-first", "https://app.example.com#x", ""},
		{"fail-newline", "https://app.example.com/\n/x", ""},
		{"fail-port-zero-leading", "https://app.example.com:0443/", ""},
		{"fail-port-empty", "https://app.example.com:/", ""},
		{"fail-ipv6", "https://[::1]/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hosts
			if tt.name == "fail-no-hosts-listed" {
				h = nil
			}
			got, ok := SafeAbsoluteRedirect(tt.rd, h)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("SafeAbsoluteRedirect(%q) = %q, %v; want %q", tt.rd, got, ok, tt.want)
			}
		})
	}
}

func TestRedirectTargetHosts(t *testing.T) {
	s := &Service{redirectHosts: []string{"app.example.com"}}
	s.web.loopPaths = []string{"/auth/login"}
	for rd, want := range map[string]string{
		"https://app.example.com/x": "https://app.example.com/x",
		"https://evil.com/x":        "/",
		"/auth/login":               "/",
		"/ok":                       "/ok",
	} {
		if got := s.redirectTarget(rd); got != want {
			t.Errorf("redirectTarget(%q) = %q; want %q", rd, got, want)
		}
	}
}

func TestCookieDomain(t *testing.T) {
	for _, tt := range []struct {
		domain string
		ok     bool
	}{
		{"example.com", true}, {"a-b.example.co.uk", true},
		{"", true}, {".example.com", false}, {"com", false}, {"Example.com", false},
		{"127.0.0.1", false}, {"example.com.", false}, {"-a.com", false}, {"a_b.com", false},
	} {
		c := Config{CookieDomain: tt.domain}
		c.SetDefaults()
		if err := c.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(cookie_domain %q) = %v; want ok %v", tt.domain, err, tt.ok)
		}
	}
	if n := newCookieNames("authgate", "example.com"); n.access != "__Secure-authgate" || n.csrf != "__Host-authgate-csrf" {
		t.Errorf("newCookieNames with a domain = %+v; want a __Secure- access cookie and a __Host- CSRF cookie", n)
	}
	s := &Service{cfg: Config{CookieDomain: "example.com"}, cookies: newCookieNames("authgate", "example.com")}
	if c := s.accessCookie("v", 60); c.Domain != "example.com" || !c.Secure || !c.HttpOnly {
		t.Errorf("accessCookie = %+v; want Domain example.com, Secure, HttpOnly", c)
	}
}
