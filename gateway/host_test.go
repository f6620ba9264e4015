package gateway

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/problem"
)

func TestParseHost(t *testing.T) {
	tests := []struct {
		name                string
		in                  string
		wantName, wantAuthy string
		wantErr             error // nil: accepted
	}{
		{name: "ok-none", in: ""},
		{name: "ok-name", in: "admin.test", wantName: "admin.test", wantAuthy: "admin.test"},
		{name: "ok-name-port", in: "admin.test:443", wantName: "admin.test", wantAuthy: "admin.test:443"},
		{name: "ok-upper-case", in: "ADMIN.Test", wantName: "admin.test", wantAuthy: "admin.test"},
		{name: "ok-trailing-dot", in: "admin.test.", wantName: "admin.test", wantAuthy: "admin.test"},
		{name: "ok-upper-dot-port", in: "Admin.TEST.:8443", wantName: "admin.test", wantAuthy: "admin.test:8443"},
		{name: "ok-single-label", in: "localhost", wantName: "localhost", wantAuthy: "localhost"},
		{name: "ok-underscore", in: "my_service:8080", wantName: "my_service", wantAuthy: "my_service:8080"},
		{name: "ok-punycode", in: "xn--bcher-kva.example", wantName: "xn--bcher-kva.example", wantAuthy: "xn--bcher-kva.example"},
		{name: "ok-digits-label-not-last", in: "123.example", wantName: "123.example", wantAuthy: "123.example"},
		{name: "ok-hex-looking-last-label", in: "cafe.0xg", wantName: "cafe.0xg", wantAuthy: "cafe.0xg"},
		{name: "ok-ipv4", in: "127.0.0.1", wantName: "127.0.0.1", wantAuthy: "127.0.0.1"},
		{name: "ok-ipv4-port", in: "10.0.0.1:65535", wantName: "10.0.0.1", wantAuthy: "10.0.0.1:65535"},
		{name: "ok-ipv4-dot", in: "10.0.0.1.", wantName: "10.0.0.1", wantAuthy: "10.0.0.1"},
		{name: "ok-ipv6", in: "[::1]", wantName: "::1", wantAuthy: "[::1]"},
		{name: "ok-ipv6-port", in: "[2001:db8::1]:1", wantName: "2001:db8::1", wantAuthy: "[2001:db8::1]:1"},
		{name: "ok-ipv6-rfc5952", in: "[2001:DB8:0:0::1]:8443", wantName: "2001:db8::1", wantAuthy: "[2001:db8::1]:8443"},
		{name: "ok-ipv6-embedded-ipv4", in: "[64:ff9b::192.0.2.1]", wantName: "64:ff9b::c000:201", wantAuthy: "[64:ff9b::c000:201]"},
		{name: "ok-longest-name", in: strings.Repeat("abcdefghi.", 25) + "abc.", wantName: strings.Repeat("abcdefghi.", 25) + "abc",
			wantAuthy: strings.Repeat("abcdefghi.", 25) + "abc"},
		{name: "ok-longest-label", in: strings.Repeat("a", 63) + ".test", wantName: strings.Repeat("a", 63) + ".test", wantAuthy: strings.Repeat("a", 63) + ".test"},

		{name: "fail-dot-only", in: ".", wantErr: errHostEmpty},
		{name: "fail-port-only", in: ":443", wantErr: errHostEmpty},
		{name: "fail-port-then-colon", in: "admin.test:443:", wantErr: errHostPort},
		{name: "fail-port-words", in: "admin.test:x:y", wantErr: errHostPort},
		{name: "fail-empty-port", in: "admin.test:", wantErr: errHostPort},
		{name: "fail-port-zero", in: "admin.test:0", wantErr: errHostPort},
		{name: "fail-port-six-digits", in: "admin.test:100000", wantErr: errHostPort},
		{name: "fail-two-dots", in: "admin.test..", wantErr: errHostLabel},
		{name: "fail-percent", in: "admin.test%2e", wantErr: errHostChar},
		{name: "fail-userinfo", in: "admin.test@evil.test", wantErr: errHostChar},
		{name: "fail-space", in: "admin.test ", wantErr: errHostChar},
		{name: "fail-non-ascii", in: "bücher.example", wantErr: errHostChar},
		{name: "fail-nul", in: "admin.test\x00", wantErr: errHostChar},
		{name: "fail-label-64", in: strings.Repeat("a", 64) + ".test", wantErr: errHostLabel},
		{name: "fail-name-254", in: strings.Repeat("abcdefghi.", 25) + "abcd", wantErr: errHostTooLong},
		{name: "fail-way-too-long", in: strings.Repeat("a", 5000), wantErr: errHostTooLong},
		{name: "fail-hyphen-start", in: "-a.test", wantErr: errHostLabel},
		{name: "fail-ipv4-short", in: "127.1", wantErr: errHostNumeric},
		{name: "fail-ipv4-hex", in: "0x7f.0.0.1", wantErr: errHostNumeric},
		{name: "fail-ipv4-hex-last", in: "127.0.0.0x1", wantErr: errHostNumeric},
		{name: "fail-ipv4-octal", in: "0177.0.0.1", wantErr: errHostNumeric},
		{name: "fail-ipv4-integer", in: "2130706433", wantErr: errHostNumeric},
		{name: "fail-numeric-tld", in: "example.123", wantErr: errHostNumeric},
		{name: "fail-bare-0x-tld", in: "example.0x", wantErr: errHostNumeric},
		{name: "fail-ipv6-bare", in: "::1", wantErr: errHostNoBrackets},
		{name: "fail-ipv6-bare-port", in: "2001:db8::1:443", wantErr: errHostNoBrackets},
		{name: "fail-ipv6-unclosed", in: "[::1", wantErr: errHostIPLiteral},
		{name: "fail-ipv6-after", in: "[::1]x", wantErr: errHostPort},
		{name: "fail-ipv6-empty-port", in: "[::1]:", wantErr: errHostPort},
		{name: "fail-ipv6-zone", in: "[fe80::1%25eth0]", wantErr: errHostIPLiteral},
		{name: "fail-ipv6-raw-zone", in: "[fe80::1%eth0]", wantErr: errHostIPLiteral},
		{name: "fail-ipvfuture", in: "[v1.fe]", wantErr: errHostIPLiteral},
		{name: "fail-ipv4-bracketed", in: "[127.0.0.1]", wantErr: errHostIPLiteral},
		{name: "fail-ipv4-mapped", in: "[::ffff:127.0.0.1]", wantErr: errHostIPLiteral},
		{name: "fail-empty-brackets", in: "[]", wantErr: errHostIPLiteral},
		{name: "fail-nested-brackets", in: "[[::1]]", wantErr: errHostIPLiteral},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHost(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, problem.ErrBadHost) {
					t.Errorf("ParseHost(%q) = %+v, %v; want %v", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Name != tt.wantName || got.Authority != tt.wantAuthy {
				t.Errorf("ParseHost(%q) = %+v, %v; want {%q %q}", tt.in, got, err, tt.wantName, tt.wantAuthy)
			}
		})
	}
}

// TestParseHostDoesNotAllocate: every request's Host is parsed, and the
// Host of nearly every request is already normal.
func TestParseHostDoesNotAllocate(t *testing.T) {
	for _, h := range []string{"admin.test", "app.example.com:8443", "localhost", "127.0.0.1:8443", "[::1]:8443", "[2001:db8::1]"} {
		if allocs := testing.AllocsPerRun(100, func() { ParseHost(h) }); allocs != 0 {
			t.Errorf("ParseHost(%q) allocates %v times; want 0", h, allocs)
		}
	}
}

func BenchmarkParseHost(b *testing.B) {
	for _, h := range []string{"app.example.com", "app.example.com:8443", "APP.Example.com.", "[::1]:8443"} {
		b.Run(h, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ParseHost(h)
			}
		})
	}
}

// FuzzHost checks the Host parser against what routing needs from it:
// any Host it accepts is routed exactly as its normalised form (the
// Authority re-parses to itself, so both get one decision), and in any
// letter case; the name it routes on is the host Go's URL parser — and so
// a Go backend reading X-Forwarded-Host — sees; and whatever it refuses is
// problem.ErrBadHost, a 400.
func FuzzHost(f *testing.F) {
	for _, s := range []string{
		"admin.test", "ADMIN.test.:443", "admin.test:443:", "admin.test:x:y", "admin.test..", "admin.test%2e",
		"[::1]:8443", "[0:0::1]", "[::ffff:1.2.3.4]", "127.0.0.1", "127.1", "0x7f.0.0.1", "t1.example.com",
		"a.b.example.com", "10.0.0.1:80", "my_service:8080", "",
	} {
		f.Add(s)
	}
	routes := []Route{
		{Name: "admin", Hosts: []string{"admin.test"}, Path: "/"},
		{Name: "tenants", Hosts: []string{"*.example.com"}, Path: "/"},
		{Name: "ip", Hosts: []string{"10.0.0.1", "::1"}, Path: "/"},
		{Name: "any", Path: "/"},
	}
	r, err := NewRouter(routes)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHost(s)
		if err != nil {
			if !errors.Is(err, problem.ErrBadHost) {
				t.Fatalf("ParseHost(%q) error %v is not problem.ErrBadHost", s, err)
			}
			return
		}
		if s == "" {
			if h != (Host{}) {
				t.Fatalf("ParseHost(\"\") = %+v; want no host", h)
			}
			return
		}
		again, err := ParseHost(h.Authority)
		if err != nil || again != h {
			t.Fatalf("ParseHost(%q) = %+v, but its Authority parses to %+v, %v", s, h, again, err)
		}
		want, wantOK := r.Match(h.Name, "GET", "/")
		for _, v := range []string{h.Authority, strings.ToUpper(s), strings.ToLower(s)} {
			hv, err := ParseHost(v)
			if err != nil {
				t.Fatalf("ParseHost(%q) accepted, but its spelling %q is refused: %v", s, v, err)
			}
			if i, ok := r.Match(hv.Name, "GET", "/"); i != want || ok != wantOK {
				t.Fatalf("Host %q routes to %d/%t, its spelling %q to %d/%t", s, want, wantOK, v, i, ok)
			}
		}
		if strings.ToLower(h.Name) != h.Name || strings.HasSuffix(h.Name, ".") || len(h.Name) > maxHostLen {
			t.Fatalf("ParseHost(%q).Name = %q: not lower case without a trailing dot", s, h.Name)
		}
		// Go's URL parser agrees on the host and the port.
		u, err := url.Parse("http://" + s + "/")
		if err != nil {
			t.Fatalf("ParseHost accepted %q, which net/url refuses: %v", s, err)
		}
		name := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if a, err := netip.ParseAddr(name); err == nil {
			name = a.String()
		}
		if name != h.Name {
			t.Fatalf("Host %q: ParseHost reads the name %q, net/url %q", s, h.Name, name)
		}
		if _, port, _ := strings.Cut(strings.TrimPrefix(h.Authority, "["+h.Name+"]"), ":"); port != u.Port() {
			t.Fatalf("Host %q: ParseHost keeps the port %q, net/url reads %q", s, port, u.Port())
		}
	})
}
