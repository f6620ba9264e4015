package authn

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeRedirect checks, for any rd:
//   - SafeRedirect never panics and answers either "/" or rd itself;
//   - what it accepts is accepted again unchanged;
//   - what it accepts stays on our origin however it is read: resolved
//     against our URL by net/url, read the way browsers read http(s) URLs
//     (tab and newline deleted, "\" taken for "/"), and after each layer
//     of percent-decoding a later hop might apply.
//
// The seeds in testdata/fuzz/FuzzSafeRedirect are the rows of
// TestSafeRedirect that exercise each rule.
func FuzzSafeRedirect(f *testing.F) {
	base, err := url.Parse("https://app.example.com/auth/login")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rd string) {
		got := SafeRedirect(rd)
		if got != "/" && got != rd {
			t.Fatalf("SafeRedirect(%q) = %q; want %q or \"/\"", rd, got, rd)
		}
		if again := SafeRedirect(got); again != got {
			t.Fatalf("SafeRedirect(%q) = %q, but SafeRedirect(%q) = %q", rd, got, got, again)
		}
		if got == "/" {
			return
		}
		layer := got
		for range maxRedirectDecodes + 1 {
			if !staysOnOrigin(base, layer) {
				t.Fatalf("SafeRedirect(%q) accepted it, but %q leaves the origin", rd, layer)
			}
			next := percentDecode(layer)
			if next == layer {
				break
			}
			layer = next
		}
	})
}

// staysOnOrigin reports whether the reference ref, followed from base,
// leads to base's scheme and host — by net/url, and by a browser's
// reading of special-scheme URLs.
func staysOnOrigin(base *url.URL, ref string) bool {
	if u, err := url.Parse(ref); err == nil {
		r := base.ResolveReference(u)
		if r.Scheme != base.Scheme || r.Host != base.Host || r.User != nil {
			return false
		}
	}
	// WHATWG URL: ASCII tab and newline are removed anywhere, leading and
	// trailing C0 controls and spaces are trimmed, and "\" is a path
	// separator in http(s) URLs.
	b := strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, ref)
	b = strings.TrimFunc(b, func(r rune) bool { return r <= ' ' })
	if !strings.HasPrefix(b, "/") || strings.HasPrefix(b, "//") {
		return false
	}
	// A scheme-relative or absolute reference is the only way out of the
	// origin from a path: "/x:y" is a path, but a reference whose first
	// segment holds a ":" before any "/" would not be (never the case
	// once it starts with "/").
	return true
}
