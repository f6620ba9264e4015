package authn

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestSameOrigin: the one Origin check compares hosts without regard to
// case and a default port written or left out alike. The CSRF defences
// (requestOrigin) and the gateway's WebSocket check answer the same; they
// used to disagree, the first comparing hosts exactly, the second not.
func TestSameOrigin(t *testing.T) {
	tests := []struct {
		name   string
		target string // the request's URL: its scheme and host
		origin string
		want   bool
	}{
		{"ok-same", "https://auth.example.com/x", "https://auth.example.com", true},
		{"ok-host-case", "https://auth.example.com/x", "https://AUTH.Example.com", true},
		{"ok-request-host-case", "https://Auth.Example.COM/x", "https://auth.example.com", true},
		{"ok-default-port-written-in-origin", "https://auth.example.com/x", "https://auth.example.com:443", true},
		{"ok-default-port-written-in-host", "https://auth.example.com:443/x", "https://auth.example.com", true},
		{"ok-http-default-port", "http://auth.example.com:80/x", "http://auth.example.com", true},
		{"ok-other-port-both", "https://auth.example.com:8443/x", "https://auth.example.com:8443", true},
		{"ok-scheme-not-compared", "http://auth.example.com/x", "https://auth.example.com", true},
		{"ok-ipv6", "https://[::1]:8443/x", "https://[::1]:8443", true},
		{"fail-other-port", "https://auth.example.com/x", "https://auth.example.com:8443", false},
		{"fail-https-port-on-http", "http://auth.example.com/x", "http://auth.example.com:443", false},
		{"fail-sibling", "https://auth.example.com/x", "https://app.auth.example.com", false},
		{"fail-other-host", "https://auth.example.com/x", "https://evil.example", false},
		{"fail-null", "https://auth.example.com/x", "null", false},
		{"fail-garbage", "https://auth.example.com/x", "::", false},
		{"fail-none", "https://auth.example.com/x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tt.target, nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := SameOrigin(r); got != tt.want {
				t.Errorf("SameOrigin(Origin %q to %s) = %v; want %v", tt.origin, tt.target, got, tt.want)
			}
			if tt.origin == "" {
				return
			}
			want := originCross
			if tt.want {
				want = originSame
			}
			if got := requestOrigin(r); got != want {
				t.Errorf("requestOrigin(Origin %q to %s) = %d; want %d, as SameOrigin says", tt.origin, tt.target, got, want)
			}
		})
	}
}
