package gateway

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/problem"
)

// FuzzCanonicalPath checks, for any input:
//   - CanonicalPath never panics, and fails only with problem.ErrBadPath;
//   - an accepted path is canonical: it starts with "/", has no "//", no
//     dot segment, no forbidden character raw or encoded, only upper-case
//     escapes, and canonicalising it again changes nothing;
//   - the route decision made on it is the decision made on every other
//     spelling of what the upstream receives: the path decoded and escaped
//     again by net/url (as a Go upstream or client would), the path with
//     every byte percent-encoded, and the path in upper case.
//
// The seed corpus is in testdata/fuzz/FuzzCanonicalPath.
func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/", "/admin", "/api/v1/x", "/%2e%2e/admin", "/a;b", "/caf%C3%A9", "/a%20b/", "//x/./y/../z"} {
		f.Add(s)
	}
	routes := []Route{
		{Name: "root", Path: "/"},
		{Name: "admin", Path: "/admin"},
		{Name: "api", Path: "/api/v1"},
		{Name: "api-get", Path: "/api/v1", Methods: []string{"GET"}},
		{Name: "space", Path: "/a%20b"},
		{Name: "cafe", Path: "/caf%C3%A9"},
		{Name: "bang", Path: "/x!y"},
		{Name: "percent", Path: "/100%25"},
	}
	r, err := NewRouter(routes)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := CanonicalPath(in)
		if err != nil {
			if !errors.Is(err, problem.ErrBadPath) {
				t.Fatalf("CanonicalPath(%q) error %v does not wrap problem.ErrBadPath", in, err)
			}
			return
		}
		checkCanonicalShape(t, in, got)
		if again, err := CanonicalPath(got); err != nil || again != got {
			t.Fatalf("CanonicalPath(%q) = %q, but CanonicalPath(%q) = %q, %v", in, got, got, again, err)
		}
		want, wantOK := r.Match("", "GET", got)
		decoded, err := url.PathUnescape(got)
		if err != nil {
			t.Fatalf("CanonicalPath(%q) = %q, which does not unescape: %v", in, got, err)
		}
		for _, variant := range []string{
			(&url.URL{Path: decoded}).EscapedPath(),
			encodeEveryByte(decoded),
			strings.ToUpper(got),
		} {
			c, err := CanonicalPath(variant)
			if err != nil {
				t.Fatalf("CanonicalPath(%q) = %q accepted, but its spelling %q is refused: %v", in, got, variant, err)
			}
			if i, ok := r.Match("", "GET", c); ok != wantOK || i != want {
				t.Fatalf("route for %q (from %q) is %v,%v but for %q (canonical %q) it is %v,%v", got, in, want, wantOK, variant, c, i, ok)
			}
		}
	})
}

// checkCanonicalShape fails unless out looks like CanonicalPath output.
func checkCanonicalShape(t *testing.T, in, out string) {
	t.Helper()
	fail := func(why string) { t.Fatalf("CanonicalPath(%q) = %q: %s", in, out, why) }
	if !strings.HasPrefix(out, "/") {
		fail(`does not start with "/"`)
	}
	if strings.Contains(out, "//") {
		fail(`contains "//"`)
	}
	for seg := range strings.SplitSeq(out[1:], "/") {
		if seg == "." || seg == ".." {
			fail("contains a dot segment")
		}
		if strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, "%20") {
			fail(`has a segment ending in "." or " "`)
		}
	}
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case c == ';' || c == '\\' || c < 0x20 || c >= 0x7f:
			fail("contains a forbidden raw byte")
		case c == '%':
			if i+2 >= len(out) || !isHex(out[i+1]) || !isHex(out[i+2]) {
				fail("contains a malformed escape")
			}
			hex := out[i+1 : i+3]
			if hex != strings.ToUpper(hex) {
				fail("contains a lower-case escape")
			}
			d := unhex(out[i+1])<<4 | unhex(out[i+2])
			if d == '/' || d == '\\' || d == ';' || d < 0x20 || d == 0x7f || staysRaw(d) {
				fail("contains an escape that should have been refused or decoded")
			}
		}
	}
}

// encodeEveryByte percent-encodes every byte of a decoded path but "/".
func encodeEveryByte(decoded string) string {
	var b strings.Builder
	for i := 0; i < len(decoded); i++ {
		c := decoded[i]
		if c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}
