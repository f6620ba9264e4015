package authn

import (
	"net"
	"path"
	"strings"
	"unicode"
)

// Where a browser goes after login: the rd parameter.
//
// rd comes from a query string anyone can write, and becomes a Location
// header. An open redirect after a real login page is a phishing tool, so rd
// is accepted only as a path on our own origin, in a spelling no browser
// (WHATWG URL parser) and no server that decodes it again can read as
// another origin. Everything else becomes "/".
const (
	maxRedirectLen = 2048
	// maxRedirectDecodes bounds how many layers of percent-encoding rd may
	// carry. Legitimate values have one (the query-string layer is already
	// gone by the time we see rd); more than a few is an attack.
	maxRedirectDecodes = 3
)

// SafeRedirect returns rd when it is a same-origin relative path that is safe
// to send as a Location after login, and "/" otherwise.
//
// Accepted: "/" alone, or "/" followed by anything but "/" or "\" — a
// path-absolute reference (RFC 3986 §4.2). Refused:
//   - anything not starting with exactly one "/": schemes (javascript:,
//     data:, http:), protocol-relative "//host" and "/\host" (browsers read
//     "\" as "/" in http(s) URLs), relative paths;
//   - "//" anywhere in the path, and "\" anywhere: "/.//evil" and
//     "/a/..//evil" become "//evil" once a browser removes dot segments;
//   - control characters, whitespace and non-ASCII bytes anywhere: the URL
//     parser deletes tabs and newlines ("/\t/evil.com" is "//evil.com"), and
//     a valid URI has none of them raw;
//   - all of the above in percent-encoded form: rd is decoded repeatedly
//     (up to maxRedirectDecodes times) and every layer must pass the same
//     checks, so %2F%2F, %5C, %09, %0A, %0D, %00 … are refused for whoever
//     decodes the value next. One exception: a decoded space (%20) is
//     allowed inside the value: URL parsers strip spaces only at the ends,
//     and the value always starts with "/", so it cannot move the origin,
//     while refusing it would break every link to a path with a space.
//
// "/@evil.com" is accepted: it is the path "/@evil.com" on our origin.
//
// SafeRedirect knows nothing of the login page's own path; Service's
// redirect target additionally refuses paths that would loop back into the
// login flow.
func SafeRedirect(rd string) string {
	if !safeRedirect(rd) {
		return "/"
	}
	return rd
}

func safeRedirect(rd string) bool {
	if rd == "" || len(rd) > maxRedirectLen {
		return false
	}
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	s := rd
	for round := 0; ; round++ {
		if !safeRedirectLayer(s) {
			return false
		}
		d := percentDecode(s)
		if d == s {
			return true
		}
		if round == maxRedirectDecodes {
			return false
		}
		s = d
	}
}

// safeRedirectLayer checks one layer of decoding of rd.
func safeRedirectLayer(s string) bool {
	if s == "" || s[0] != '/' {
		return false
	}
	p := s
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	// "//" matters only in the path: "/search?u=https://x" stays on our
	// origin however it is parsed.
	if strings.Contains(p, "//") || strings.ContainsRune(s, '\\') {
		return false
	}
	for _, r := range s {
		if r == ' ' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// percentDecode decodes every valid %XX escape of s and keeps a "%" that
// does not start one, as lenient decoders do: "/x?q=100%25" is one layer,
// and the valid escapes of "/%2F%2Fevil%zz" are still seen.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// redirectTarget is SafeRedirect plus loop protection: a path that leads
// back into the login flow (the login page, logout, the browser refresh)
// becomes "/". Matching follows the gateway's canonical form: decoded,
// dot segments removed, case-insensitive.
//
// An absolute rd to one of Options.RedirectHosts (forward-auth: back to
// the app on its own host) is kept as SafeAbsoluteRedirect accepts it.
func (s *Service) redirectTarget(rd string) string {
	if abs, ok := SafeAbsoluteRedirect(rd, s.redirectHosts); ok {
		return abs
	}
	rd = SafeRedirect(rd)
	p := rd
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	p = strings.ToLower(path.Clean(percentDecode(p)))
	for _, loop := range s.web.loopPaths {
		if p == loop || strings.HasPrefix(p, loop+"/") {
			return "/"
		}
	}
	return rd
}

// SafeAbsoluteRedirect accepts rd when it is an absolute http(s) URL whose
// host is one of hosts (lower-case names, or "*.example.com" for exactly
// one label under example.com) and whose path and query SafeRedirect
// would accept. It is the open-redirect rule of SafeRedirect extended to
// a host allow-list, for forward-auth: the login page on auth.example.com
// sends the browser back to app.example.com.
//
// The authority is read strictly: a DNS name and an optional port, no
// user info ("https://app.example.com@evil.com" has "@", refused), no
// "\", no percent-encoding, no IP address unless listed as one. The
// scheme must be written "http://" or "https://" in lower case. An empty
// path becomes "/".
func SafeAbsoluteRedirect(rd string, hosts []string) (string, bool) {
	if len(hosts) == 0 || len(rd) > maxRedirectLen {
		return "", false
	}
	var rest string
	switch {
	case strings.HasPrefix(rd, "https://"):
		rest = rd[len("https://"):]
	case strings.HasPrefix(rd, "http://"):
		rest = rd[len("http://"):]
	default:
		return "", false
	}
	authority, tail := rest, "/"
	if i := strings.IndexAny(rest, "/?#\\"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if tail[0] != '/' || !safeRedirect(tail) {
		return "", false
	}
	host := authority
	if h, port, err := net.SplitHostPort(authority); err == nil {
		if !validRedirectPort(port) {
			return "", false
		}
		host = h
	}
	if !redirectHostAllowed(host, hosts) {
		return "", false
	}
	return rd[:len(rd)-len(rest)] + authority + tail, true
}

func validRedirectPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// redirectHostAllowed reports whether host, exactly as written (lower
// case, letters, digits, "-", "." and "_"), is one of hosts.
func redirectHostAllowed(host string, hosts []string) bool {
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	for _, h := range hosts {
		if parent, ok := strings.CutPrefix(h, "*."); ok {
			dot := strings.IndexByte(host, '.')
			if dot > 0 && host[dot+1:] == parent {
				return true
			}
			continue
		}
		if host == h {
			return true
		}
	}
	return false
}
