package gateway

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/problem"
)

func TestCanonicalPath(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "ok-root", in: "/", want: "/"},
		{name: "ok-plain", in: "/api/v1/users", want: "/api/v1/users"},
		{name: "ok-trailing-slash-kept", in: "/api/", want: "/api/"},
		{name: "ok-case-kept", in: "/API/Users", want: "/API/Users"},
		{name: "ok-sub-delims-raw", in: "/a!$&'()*+,=:@b", want: "/a!$&'()*+,=:@b"},
		{name: "ok-dot-in-name", in: "/file.txt/.hidden", want: "/file.txt/.hidden"},
		{name: "ok-decode-unreserved", in: "/%61dmin", want: "/admin"},
		{name: "ok-decode-tilde-lower-hex", in: "/%7euser", want: "/~user"},
		{name: "ok-decode-sub-delim", in: "/a%21b%28c%29", want: "/a!b(c)"},
		{name: "ok-keep-space-escape", in: "/my%20docs", want: "/my%20docs"},
		{name: "ok-upper-hex", in: "/caf%c3%a9", want: "/caf%C3%A9"},
		{name: "fail-encoded-question-mark", in: "/a%3fb", wantErr: true},
		{name: "fail-encoded-hash", in: "/a%23b", wantErr: true},
		{name: "fail-raw-question-mark", in: "/a?b", wantErr: true},
		{name: "fail-raw-hash", in: "/      #000000000", wantErr: true}, // found by FuzzCanonicalPath: it canonicalised to a refused path
		{name: "ok-keep-percent-escape", in: "/100%25off", want: "/100%25off"},
		{name: "ok-percent-escape-at-end", in: "/100%25", want: "/100%25"},
		{name: "ok-encode-raw-space", in: "/my docs", want: "/my%20docs"},
		{name: "ok-encode-raw-non-ascii", in: "/café", want: "/caf%C3%A9"},
		{name: "ok-encode-raw-brackets", in: "/a[1]", want: "/a%5B1%5D"},
		{name: "ok-collapse-double-slash", in: "//admin//x", want: "/admin/x"},
		{name: "ok-collapse-trailing-double", in: "/admin//", want: "/admin/"},
		{name: "ok-dot", in: "/./admin/./x", want: "/admin/x"},
		{name: "ok-dotdot", in: "/public/../admin", want: "/admin"},
		{name: "ok-dotdot-trailing", in: "/a/b/..", want: "/a/"},
		{name: "ok-dot-trailing", in: "/a/.", want: "/a/"},
		{name: "ok-dotdot-to-root", in: "/a/..", want: "/"},
		{name: "ok-encoded-dotdot", in: "/public/%2e%2e/admin", want: "/admin"},
		{name: "ok-encoded-dotdot-mixed", in: "/public/.%2E/admin", want: "/admin"},
		{name: "ok-encoded-dot", in: "/%2e/admin", want: "/admin"},
		{name: "ok-double-slash-and-dots", in: "/a//..//b", want: "/b"},
		{name: "ok-dots-in-segment-middle", in: "/a..b/c", want: "/a..b/c"},
		{name: "ok-utf8-4-byte", in: "/%F0%9F%98%80", want: "/%F0%9F%98%80"},
		{name: "ok-kelvin-lookalike-not-folding", in: "/%E2%84%AB", want: "/%E2%84%AB"}, // Å ANGSTROM SIGN folds to å, not ASCII
		{name: "ok-cjk", in: "/%E6%97%A5%E6%9C%AC", want: "/%E6%97%A5%E6%9C%AC"},
		{name: "ok-combining-accent", in: "/cafe%CC%81", want: "/cafe%CC%81"}, // NFKC makes it é, not ASCII

		{name: "fail-empty", in: "", wantErr: true},
		{name: "fail-relative", in: "admin", wantErr: true},
		{name: "fail-asterisk", in: "*", wantErr: true},
		{name: "fail-encoded-slash", in: "/admin%2Fx", wantErr: true},
		{name: "fail-encoded-slash-lower", in: "/public%2f..%2fadmin", wantErr: true},
		{name: "fail-encoded-backslash", in: "/public%5C..%5Cadmin", wantErr: true},
		{name: "fail-raw-backslash", in: `/public\..\admin`, wantErr: true},
		{name: "fail-raw-nul", in: "/admin\x00.html", wantErr: true},
		{name: "fail-encoded-nul", in: "/admin%00.html", wantErr: true},
		{name: "fail-encoded-newline", in: "/admin%0a", wantErr: true},
		{name: "fail-raw-tab", in: "/ad\tmin", wantErr: true},
		{name: "fail-encoded-del", in: "/admin%7F", wantErr: true},
		{name: "fail-semicolon", in: "/admin;jsessionid=1", wantErr: true},
		{name: "fail-encoded-semicolon", in: "/admin%3Bx", wantErr: true},
		{name: "fail-double-encoded-slash", in: "/admin%252Fx", wantErr: true},
		{name: "fail-double-encoded-dot", in: "/%252e%252e/admin", wantErr: true},
		{name: "fail-double-encoding-hidden", in: "/%25%32%46", wantErr: true},
		{name: "fail-malformed-escape", in: "/a%zzb", wantErr: true},
		{name: "fail-truncated-escape", in: "/a%4", wantErr: true},
		{name: "fail-lone-percent", in: "/a%", wantErr: true},
		{name: "fail-trailing-dot", in: "/admin.", wantErr: true},
		{name: "fail-trailing-dots", in: "/admin...", wantErr: true},
		{name: "fail-trailing-encoded-dot", in: "/admin%2e", wantErr: true},
		{name: "fail-trailing-dot-mid", in: "/admin./x", wantErr: true},
		{name: "fail-trailing-space", in: "/admin%20", wantErr: true},
		{name: "fail-trailing-space-mid", in: "/admin%20/x", wantErr: true},
		{name: "fail-dotdot-above-root", in: "/..", wantErr: true},
		{name: "fail-dotdot-above-root-later", in: "/a/../../admin", wantErr: true},
		{name: "fail-encoded-dotdot-above-root", in: "/%2e%2e/admin", wantErr: true},
		{name: "fail-overlong-dot", in: "/%C0%AE%C0%AE/admin", wantErr: true},
		{name: "fail-overlong-slash", in: "/a%C0%AFb", wantErr: true},
		{name: "fail-invalid-utf8", in: "/%FF", wantErr: true},
		{name: "fail-truncated-utf8", in: "/caf%C3", wantErr: true},
		{name: "fail-surrogate", in: "/%ED%A0%80", wantErr: true},
		{name: "fail-dotless-i", in: "/adm%C4%B1n", wantErr: true},
		{name: "fail-dotted-capital-i", in: "/adm%C4%B0n", wantErr: true},
		{name: "fail-long-s", in: "/%C5%BFecret", wantErr: true},
		{name: "fail-kelvin", in: "/%E2%84%AAey", wantErr: true},
		{name: "fail-fullwidth-letter", in: "/%EF%BD%81dmin", wantErr: true},
		{name: "fail-fullwidth-letter-raw", in: "/ａdmin", wantErr: true},
		{name: "fail-fullwidth-solidus", in: "/a%EF%BC%8Fb", wantErr: true},
		{name: "fail-fullwidth-full-stop", in: "/a/%EF%BC%8E%EF%BC%8E/b", wantErr: true},
		{name: "fail-two-dot-leader", in: "/a/%E2%80%A5/b", wantErr: true},
		{name: "fail-ligature-fi", in: "/%EF%AC%81le", wantErr: true},
		{name: "fail-superscript-digit", in: "/v%C2%B9", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalPath(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("CanonicalPath(%q) = %q, nil; want an error", tt.in, got)
				}
				if !errors.Is(err, problem.ErrBadPath) {
					t.Fatalf("CanonicalPath(%q) error %v does not wrap problem.ErrBadPath", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CanonicalPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			again, err := CanonicalPath(got)
			if err != nil || again != got {
				t.Fatalf("CanonicalPath(%q) = %q, %v; not idempotent", got, again, err)
			}
		})
	}
}

// TestCanonicalPathGoEscaping checks that what net/url hands the server for
// a decoded path canonicalises back to the same thing: the server calls
// CanonicalPath(r.URL.EscapedPath()).
func TestCanonicalPathGoEscaping(t *testing.T) {
	for _, decoded := range []string{"/a b", "/a!b", "/caf\u00e9", "/x(1)", "/p%q", "/a'b*"} {
		esc := (&url.URL{Path: decoded}).EscapedPath()
		got, err := CanonicalPath(esc)
		if err != nil {
			t.Fatalf("CanonicalPath(%q) for %q: %v", esc, decoded, err)
		}
		back, err := url.PathUnescape(got)
		if err != nil || back != decoded {
			t.Errorf("CanonicalPath(%q) = %q, which decodes to %q, %v; want %q", esc, got, back, err, decoded)
		}
	}
}

func TestCanonicalPathFastPathDoesNotAllocate(t *testing.T) {
	p := "/api/v1/users/42/profile.json"
	allocs := testing.AllocsPerRun(100, func() {
		if got, err := CanonicalPath(p); err != nil || got != p {
			t.Fatalf("CanonicalPath(%q) = %q, %v", p, got, err)
		}
	})
	if allocs != 0 {
		t.Errorf("CanonicalPath(%q) allocates %v times; want 0", p, allocs)
	}
}

func TestCanonicalPathErrorNamesRule(t *testing.T) {
	_, err := CanonicalPath("/admin%2Fx")
	if err == nil || !strings.Contains(err.Error(), "%2F") {
		t.Errorf("CanonicalPath(%q) error = %v; want it to name %%2F", "/admin%2Fx", err)
	}
}

func BenchmarkCanonicalPath(b *testing.B) {
	for _, p := range []string{"/api/v1/users/42", "/api/%761/users/../42"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				CanonicalPath(p)
			}
		})
	}
}
