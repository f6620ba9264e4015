package authn

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeRedirect(t *testing.T) {
	const base = "https://app.example.com/auth/login?rd=x"
	tests := []struct {
		name string
		rd   string
		want string // "" means rd itself
	}{
		{"ok-root", "/", ""},
		{"ok-path", "/app", ""},
		{"ok-path-query", "/app/page?x=1&y=2", ""},
		{"ok-fragment", "/app#section", ""},
		{"ok-encoded-space", "/files/my%20doc.pdf", ""},
		{"ok-encoded-utf8", "/caf%C3%A9", ""},
		{"ok-userinfo-lookalike-path", "/@evil.com", ""},
		{"ok-query-with-url", "/search?u=https://example.org/x", ""},
		{"ok-percent-literal-in-query", "/x?q=100%25", ""},
		{"ok-dot-segment", "/a/./b/../c", ""},
		{"ok-encoded-unicode-slash", "/%E2%88%95%E2%88%95evil.com", ""},
		{"ok-semicolon", "/;@evil.com", ""},
		{"fail-empty", "", "/"},
		{"fail-protocol-relative", "//evil.com", "/"},
		{"fail-protocol-relative-path", "//evil.com/app", "/"},
		{"fail-triple-slash", "///evil.com", "/"},
		{"fail-slash-backslash", "/\\evil.com", "/"},
		{"fail-backslash-backslash", "\\\\evil.com", "/"},
		{"fail-backslash", "\\evil.com", "/"},
		{"fail-backslash-later", "/a\\b", "/"},
		{"fail-absolute-https", "https://evil.com", "/"},
		{"fail-absolute-http", "http://evil.com/", "/"},
		{"fail-scheme-relative", "https:evil.com", "/"},
		{"fail-javascript", "javascript:alert(1)", "/"},
		{"fail-javascript-case", "JaVaScRiPt:alert(1)", "/"},
		{"fail-data", "data:text/html,<script>alert(1)</script>", "/"},
		{"fail-relative", "evil.com", "/"},
		{"fail-relative-dot", "./evil", "/"},
		{"fail-userinfo-absolute", "https://app.example.com@evil.com/", "/"},
		{"fail-lookalike-host", "https://app.example.com.evil.com/", "/"},
		{"fail-tab-slash", "/\t/evil.com", "/"},
		{"fail-newline-slash", "/\n/evil.com", "/"},
		{"fail-cr-slash", "/\r/evil.com", "/"},
		{"fail-leading-space", " //evil.com", "/"},
		{"fail-space", "/a b", "/"},
		{"fail-nul", "/a\x00b", "/"},
		{"fail-del", "/a\x7fb", "/"},
		{"fail-raw-unicode-slash", "/\u2215evil.com", "/"},
		{"fail-raw-fullwidth-slash", "/\uff0fevil.com", "/"},
		{"fail-raw-fullwidth-solidus-start", "\uff0f\uff0fevil.com", "/"},
		{"fail-encoded-double-slash", "/%2F%2Fevil.com", "/"},
		{"fail-encoded-double-slash-lower", "/%2f%2fevil.com", "/"},
		{"fail-encoded-protocol-relative", "%2F%2Fevil.com", "/"},
		{"fail-encoded-backslash", "/%5Cevil.com", "/"},
		{"fail-encoded-tab", "/%09/evil.com", "/"},
		{"fail-encoded-newline", "/%0A/evil.com", "/"},
		{"fail-encoded-cr", "/%0D/evil.com", "/"},
		{"fail-encoded-nul", "/%00", "/"},
		{"fail-encoded-c1", "/%C2%85", "/"},
		{"fail-encoded-nbsp", "/a%C2%A0b", "/"},
		{"fail-double-encoded-slash", "/%252F%252Fevil.com", "/"},
		{"fail-triple-encoded-slash", "/%25252F%25252Fevil.com", "/"},
		{"fail-too-many-layers", "/%2525252F", "/"},
		{"fail-dot-double-slash", "/.//evil.com", "/"},
		{"fail-dotdot-double-slash", "/a/..//evil.com", "/"},
		{"fail-encoded-dotdot-double-slash", "/%2e%2e//evil.com", "/"},
		{"fail-dotdot-encoded-slashes", "/..%2F%2Fevil.com", "/"},
		{"fail-encoded-scheme", "javascript%3Aalert(1)", "/"},
		{"fail-encoded-leading-slash", "%2Fapp", "/"},
		{"fail-mixed-slash-encoded-backslash", "/%5C%5Cevil.com", "/"},
		{"fail-too-long", "/" + strings.Repeat("a", maxRedirectLen), "/"},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d cases", len(tests))
	}
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.rd
			}
			got := SafeRedirect(tt.rd)
			if got != want {
				t.Errorf("SafeRedirect(%q) = %q; want %q", tt.rd, got, want)
			}
			// Whatever comes out must stay on our origin, read as a
			// Location by a URL parser…
			ref, err := url.Parse(got)
			if err != nil {
				t.Fatalf("SafeRedirect(%q) = %q, which does not parse: %v", tt.rd, got, err)
			}
			loc := b.ResolveReference(ref)
			if loc.Scheme != b.Scheme || loc.Host != b.Host || loc.User != nil {
				t.Errorf("SafeRedirect(%q) = %q resolves to %q; want a URL on %s", tt.rd, got, loc, b.Host)
			}
			// …and after any number of decodings by whoever reads it next.
			for s := got; ; {
				d, err := url.PathUnescape(s)
				if err != nil || d == s {
					break
				}
				if strings.HasPrefix(d, "//") || strings.HasPrefix(d, "/\\") || !strings.HasPrefix(d, "/") {
					t.Errorf("SafeRedirect(%q) = %q decodes to %q, which leaves the origin", tt.rd, got, d)
				}
				s = d
			}
		})
	}
}

func TestRedirectTargetLoops(t *testing.T) {
	s := &Service{}
	s.web.prefix = "/auth"
	s.web.loopPaths = []string{"/auth/login", "/auth/logout", "/auth/refresh"}
	tests := []struct {
		name string
		rd   string
		want string
	}{
		{"ok-app", "/app?x=1", "/app?x=1"},
		{"ok-auth-me", "/auth/me", "/auth/me"},
		{"ok-login-lookalike", "/auth/loginx", "/auth/loginx"},
		{"fail-login", "/auth/login", "/"},
		{"fail-login-query", "/auth/login?rd=/auth/login", "/"},
		{"fail-login-case", "/AUTH/Login", "/"},
		{"fail-login-dots", "/auth/./login", "/"},
		{"fail-login-dotdot", "/x/../auth/login", "/"},
		{"fail-login-encoded", "/auth/%6Cogin", "/"},
		{"fail-login-subpath", "/auth/login/x", "/"},
		{"fail-logout", "/auth/logout", "/"},
		{"fail-refresh", "/auth/refresh?rd=/app", "/"},
		{"fail-unsafe", "//evil.com", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.redirectTarget(tt.rd); got != tt.want {
				t.Errorf("redirectTarget(%q) = %q; want %q", tt.rd, got, tt.want)
			}
		})
	}
}
