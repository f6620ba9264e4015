package gateway

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/problem"
	"golang.org/x/text/unicode/norm"
)

func badPath(reason string) error { return fmt.Errorf("%w: %s", problem.ErrBadPath, reason) }

// CanonicalPath turns a request's escaped path (r.URL.EscapedPath()) into
// the one spelling that both the route decision and the upstream use, or
// fails with an error wrapping problem.ErrBadPath.
//
// Gateways have let protected paths through as public whenever they decided
// on one spelling of a path and the upstream read another: Envoy did not
// resolve ".." (CVE-2019-9901), Traefik and Oathkeeper have had
// path-matching bypasses of the same kind, and ";" parameters let
// "/admin;x" past nginx to Tomcat's /admin (Orange Tsai, "Breaking Parser
// Logic", Black Hat 2018). So every rule below either rewrites to the
// spelling an upstream would resolve to, or rejects a spelling whose
// meaning depends on the upstream:
//
//   - The path must start with "/" (RFC 9112 §3.2.1 origin-form).
//   - Percent-encodings are normalised as RFC 3986 §6.2.2.1-2 says:
//     encodings of characters that may appear raw in a path (unreserved,
//     and the sub-delims, ":" and "@" of §3.3) are decoded — "%2e%2e" is
//     "..", "%61dmin" is "admin" — and every other encoding is kept with
//     upper-case hex. Characters that must be encoded but arrive raw are
//     encoded. The result: two spellings an upstream decodes to the same
//     bytes canonicalise to the same string.
//   - Rejected, raw or encoded: "/" as %2F (an upstream that decodes it sees
//     another path), "?" as %3F and "#" as %23 (one that decodes the path
//     and parses it again ends the path there), "\" (Windows servers and some frameworks treat it as
//     "/"), ";" (Tomcat, Jetty and Spring strip ";params" from segments, so
//     "/admin;x" reaches /admin; Spring Security's StrictHttpFirewall
//     refuses them for that reason), NUL and other control characters (C
//     string truncation, log injection). Malformed escapes are rejected.
//   - "%25" followed by two hex digits is rejected: it is a double encoding
//     ("%252F"), harmless only if no component decodes twice.
//   - The decoded bytes must be valid UTF-8 (RFC 3629 §10: overlong forms
//     such as %C0%AE for "." were the IIS traversal of 2000), and must not
//     contain the four non-ASCII letters whose case mapping is ASCII
//     (U+0130 İ, U+0131 ı, U+017F ſ, U+212A Kelvin sign): routes match
//     ASCII case-insensitively, and an upstream folding Unicode case would
//     read "/admın" as "/admin".
//   - Nor may they contain a character whose compatibility form (NFKC,
//     Unicode UAX #15) holds an ASCII character: fullwidth "ａｄｍｉｎ",
//     "／" and "．", the two-dot leader "‥" for "..", ligatures such as
//     "ﬁ". An upstream that normalises paths with NFKC, or that runs on
//     Windows and converts them to a code page with best-fit mapping
//     (Orange Tsai and Splitline, "WorstFit", 2025), reads them as
//     "/admin" or "..". Other non-ASCII characters ("é", CJK) are fine.
//   - A segment ending in "." or " " (other than the dot segments) is
//     rejected: Windows and IIS strip them, so "/admin." is "/admin" there.
//   - "." and ".." segments are resolved as RFC 3986 §5.2.4 does, except
//     that ".." above the root is rejected instead of dropped: no
//     legitimate client sends it.
//   - Empty segments are collapsed ("//" becomes "/"): most servers and
//     frameworks do so, and a route must not be dodged with "//admin".
//   - A trailing slash is kept, and a trailing dot segment leaves one, as
//     in RFC 3986 ("/a/b/.." is "/a/").
//
// The result is still an escaped path (only the escapes above remain):
// the proxy sends it as the outgoing URL's RawPath, with its decoding as
// Path. It is idempotent. A path that is already canonical is returned as
// is without allocating. Matching on it is case-insensitive (see
// Router.Match); it keeps the client's case, which is what the upstream
// receives.
func CanonicalPath(escapedPath string) (string, error) {
	if escapedPath == "" || escapedPath[0] != '/' {
		return "", badPath(`must start with "/"`)
	}
	if isCanonicalFast(escapedPath) {
		return escapedPath, nil
	}
	buf, err := normalizeEscapes(escapedPath)
	if err != nil {
		return "", err
	}
	if err := checkDecoded(buf); err != nil {
		return "", err
	}
	out, err := resolveSegments(buf)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// isCanonicalFast reports whether p (starting with "/") needs no work at
// all: only characters that stay raw, no "%", no empty segment before the
// last, no dot segment and no segment ending in ".". This is the case for
// nearly every real request, which then costs one scan.
func isCanonicalFast(p string) bool {
	seg := 1 // start of the current segment
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			if !staysRaw(p[i]) {
				return false
			}
			continue
		}
		s := p[seg:i]
		if s == "" && i < len(p) || s == "." || s == ".." || strings.HasSuffix(s, ".") {
			return false
		}
		seg = i + 1
	}
	return true
}

// staysRaw reports whether c is written raw in a canonical path: RFC 3986
// §3.3 pchar without ";" (unreserved, sub-delims but ";", ":" and "@").
func staysRaw(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', // unreserved
		'!', '$', '&', '\'', '(', ')', '*', '+', ',', '=', // sub-delims, less ";"
		':', '@':
		return true
	}
	return false
}

// forbidden explains why byte c (raw or decoded) is refused in a path, or
// returns "" when it is not.
func forbidden(c byte) string {
	switch {
	case c == '\\':
		return `"\" (read as "/" by some servers)`
	case c == ';':
		return `";" (path parameters are stripped by some servers)`
	case c < 0x20 || c == 0x7f:
		return "a control character"
	}
	return ""
}

const upperHex = "0123456789ABCDEF"

// normalizeEscapes decodes escapes of characters that stay raw, encodes raw
// characters that must not stay raw, upper-cases the hex of the remaining
// escapes and rejects forbidden characters in either form.
func normalizeEscapes(p string) ([]byte, error) {
	buf := make([]byte, 0, len(p)+8)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			if why := forbidden(c); why != "" {
				return nil, badPath(why)
			}
			if c == '?' || c == '#' {
				// An escaped path never holds them raw (net/url escapes
				// both): one here is not a path character, and writing it
				// as %3F or %23 would make a path that is refused above.
				return nil, badPath(fmt.Sprintf("raw %q: it ends a path", c))
			}
			if c == '/' || staysRaw(c) {
				buf = append(buf, c)
			} else {
				buf = append(buf, '%', upperHex[c>>4], upperHex[c&15])
			}
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return nil, badPath("malformed percent-encoding")
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		i += 2
		switch d {
		case '/':
			return nil, badPath(`encoded "/" (%2F): a server that decodes it reads another path`)
		case '?', '#':
			// A server that decodes the path and parses it again ends the
			// path there: "/admin%3Fx" would be "/admin" with a query.
			return nil, badPath(fmt.Sprintf("encoded %q (%%%02X): a server that decodes it ends the path there", d, d))
		}
		if why := forbidden(d); why != "" {
			return nil, badPath("encoded " + why)
		}
		if staysRaw(d) {
			buf = append(buf, d)
		} else {
			buf = append(buf, '%', upperHex[d>>4], upperHex[d&15])
		}
	}
	return buf, nil
}

// checkDecoded looks at what the escapes of a normalised path decode to:
// no double encoding, valid UTF-8, no letters that case-fold into ASCII.
func checkDecoded(buf []byte) error {
	var run []byte // consecutive escaped bytes ≥ 0x80: one or more UTF-8 sequences
	for i := 0; i <= len(buf); {
		var b byte
		escaped := i < len(buf) && buf[i] == '%' // normalised: two hex digits follow
		if escaped {
			b = unhex(buf[i+1])<<4 | unhex(buf[i+2])
		}
		if escaped && b >= 0x80 {
			run = append(run, b)
			i += 3
			continue
		}
		if len(run) > 0 {
			if err := checkUTF8(run); err != nil {
				return err
			}
			run = run[:0]
		}
		if i == len(buf) {
			break
		}
		if escaped {
			// normalizeEscapes decoded hex digits, so "%2541" and
			// "%25%34%31" both look like this here.
			if b == '%' && i+4 < len(buf) && isHex(buf[i+3]) && isHex(buf[i+4]) {
				return badPath(`double percent-encoding ("%25" followed by two hex digits)`)
			}
			i += 3
			continue
		}
		i++
	}
	return nil
}

func checkUTF8(b []byte) error {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			return badPath("percent-encoded bytes are not valid UTF-8")
		}
		switch r {
		case '\u0130', '\u0131', '\u017F', '\u212A': // İ, ı, ſ, Kelvin sign
			return badPath(fmt.Sprintf("%q (U+%04X) case-folds to an ASCII letter", r, r))
		}
		// Most characters are their own NFKC form: IsNormal says so
		// without allocating.
		if !norm.NFKC.IsNormal(b[:size]) {
			if nfkc := norm.NFKC.String(string(b[:size])); hasASCII(nfkc) {
				return badPath(fmt.Sprintf("%q (U+%04X) is a compatibility form of %q (NFKC)", r, r, nfkc))
			}
		}
		b = b[size:]
	}
	return nil
}

// resolveSegments collapses empty segments, resolves dot segments (RFC 3986
// §5.2.4) and rejects segments ending in "." or " ". buf starts with "/".
func resolveSegments(buf []byte) ([]byte, error) {
	out := make([]byte, 1, len(buf))
	out[0] = '/'
	rest := buf[1:]
	for {
		seg, after, more := cutByte(rest, '/')
		switch s := string(seg); {
		case s == "" || s == ".":
			// "//" or "/./": nothing to add; out still ends in "/".
		case s == "..":
			if len(out) == 1 {
				return nil, badPath(`".." above the root`)
			}
			// out is "/…/last/": drop "last/".
			out = out[:lastSlash(out[:len(out)-1])+1]
		case strings.HasSuffix(s, "."):
			return nil, badPath(`segment ends in "." (Windows servers strip it)`)
		case strings.HasSuffix(s, "%20"):
			return nil, badPath(`segment ends in " " (Windows servers strip it)`)
		default:
			out = append(out, seg...)
			if more {
				out = append(out, '/')
			}
		}
		if !more {
			return out, nil
		}
		rest = after
	}
}

func hasASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < utf8.RuneSelf {
			return true
		}
	}
	return false
}

func cutByte(b []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}
