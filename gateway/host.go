package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/authgate/authgate/internal/problem"
)

// Host is a request's authority — the Host header, the authority of an
// absolute-form request-target, or HTTP/2's :authority — as ParseHost
// read it. Routing, the http→https redirect and X-Forwarded-Host all use
// this one reading, so no two of them can disagree about which host a
// request is for.
type Host struct {
	// Name is the host without its port: a DNS name in lower case without
	// a trailing dot, an IPv4 address, or an IPv6 address without
	// brackets in its RFC 5952 form. "" when the request names no host.
	Name string
	// Authority is Name with the port as the client sent it, an IPv6
	// address in brackets: "admin.test:443", "[::1]". It is what the
	// upstream is told in X-Forwarded-Host, and ParseHost(Authority)
	// gives this same Host back.
	Authority string
}

// maxHostLen is the longest DNS name (RFC 1035 §2.3.4), without the
// trailing dot.
const maxHostLen = 253

// maxAuthorityLen bounds a whole authority: the longest name, its
// trailing dot and ":65535". An IP literal is shorter.
const maxAuthorityLen = maxHostLen + 1 + 6

// Why an authority is refused. Fixed texts: the client's bytes are never
// echoed back.
var (
	errHostEmpty      = fmt.Errorf("%w: the host is empty", problem.ErrBadHost)
	errHostTooLong    = fmt.Errorf("%w: the host is longer than 253 characters", problem.ErrBadHost)
	errHostChar       = fmt.Errorf(`%w: a host name has only letters, digits, "-", "_" and dots between labels (an international name in its xn-- form, no percent-encoding)`, problem.ErrBadHost)
	errHostLabel      = fmt.Errorf(`%w: a host name has no empty label, none longer than 63 characters, and none starting or ending with "-"`, problem.ErrBadHost)
	errHostNumeric    = fmt.Errorf("%w: a host whose last label is a number must be an IPv4 address in four decimal parts without leading zeros", problem.ErrBadHost)
	errHostPort       = fmt.Errorf("%w: the port must be a number from 1 to 65535 in digits, without leading zeros", problem.ErrBadHost)
	errHostIPLiteral  = fmt.Errorf("%w: an address in brackets must be an IPv6 address, without a zone and not an IPv4-mapped one", problem.ErrBadHost)
	errHostNoBrackets = fmt.Errorf("%w: an IPv6 address must be written in brackets", problem.ErrBadHost)
	errHostNoTarget   = fmt.Errorf("%w: an absolute request-target must name a host", problem.ErrBadHost)
)

// ParseHost reads an authority (RFC 9110 §7.2: uri-host [":" port], with
// uri-host from RFC 3986 §3.2.2) strictly, and normalises it. Accepted:
//
//   - a DNS name: labels of letters, digits, "-" (not at either end) and
//     "_" (container and service names use it, and route hosts may), at
//     most 63 characters each and 253 in all, and at most one trailing
//     dot, which names the same host (RFC 1034 §3.1);
//   - an IPv4 address in four decimal parts without leading zeros;
//   - an IPv6 address in brackets, without a zone (RFC 6874 is not for
//     HTTP) and not IPv4-mapped, which would be a second spelling of an
//     IPv4 address;
//
// each optionally followed by ":" and a port of 1 to 65535 in digits.
//
// Everything else of RFC 3986's reg-name — percent-encoding, the
// sub-delims "!$&'()*+,;=", "~" — is refused: no browser sends them, and
// backends read them differently ("admin.test%2e" is admin.test to some).
// So is a name whose last label is a number but which is no IPv4 address
// ("127.1", "0x7f.0.0.1"): the WHATWG URL standard, and so browsers and
// many backends, read those as IPv4 addresses. An empty port, which
// RFC 3986 allows, is refused too: it is one more spelling of the same
// authority, and the review that led here showed what extra spellings do.
//
// "" is accepted as "no host" (Host{}): requestHost decides when that is
// allowed. ParseHost does not allocate unless the authority needs
// normalising (upper case, a trailing dot, a non-RFC 5952 IPv6 address).
func ParseHost(s string) (Host, error) {
	switch {
	case s == "":
		return Host{}, nil
	case len(s) > maxAuthorityLen:
		return Host{}, errHostTooLong
	case s[0] == '[':
		return parseIPLiteral(s)
	}
	name, port := s, ""
	if i := strings.IndexByte(s, ':'); i >= 0 {
		name, port = s[:i], s[i+1:]
		if !validPort(port) {
			if strings.IndexByte(port, ':') >= 0 && validIPv6Text(s) {
				return Host{}, errHostNoBrackets
			}
			return Host{}, errHostPort
		}
	}
	trimmed := strings.TrimSuffix(name, ".")
	upper, err := checkHostName(trimmed)
	if err != nil {
		return Host{}, err
	}
	if !upper && len(trimmed) == len(name) {
		return Host{Name: name, Authority: s}, nil
	}
	// Rare: build the normal form once.
	var b strings.Builder
	b.Grow(len(trimmed) + 1 + len(port))
	for i := 0; i < len(trimmed); i++ {
		b.WriteByte(lower(trimmed[i]))
	}
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	a := b.String()
	return Host{Name: a[:len(trimmed)], Authority: a}, nil
}

// checkHostName checks a name without its trailing dot and reports
// whether it has upper-case letters.
func checkHostName(n string) (upper bool, err error) {
	if n == "" {
		return false, errHostEmpty
	}
	if len(n) > maxHostLen {
		return false, errHostTooLong
	}
	start, last := 0, "" // where the current label starts; the last label
	for i := 0; i <= len(n); i++ {
		if i == len(n) || n[i] == '.' {
			last = n[start:i]
			if last == "" || len(last) > 63 || last[0] == '-' || last[len(last)-1] == '-' {
				return false, errHostLabel
			}
			start = i + 1
			continue
		}
		switch c := n[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			return false, errHostChar
		}
	}
	if isNumericLabel(last) {
		// WHATWG URL §3.5 "ends in a number": the whole host is then an
		// IPv4 address to a browser, in any of its old spellings. Only
		// the one spelling RFC 3986 §3.2.2 calls IPv4address is kept.
		if a, err := netip.ParseAddr(n); err != nil || !a.Is4() {
			return false, errHostNumeric
		}
	}
	return upper, nil
}

// isNumericLabel reports whether l is a number to the WHATWG IPv4 parser:
// decimal digits (octal too), or "0x" and hexadecimal digits.
func isNumericLabel(l string) bool {
	if len(l) >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X') {
		for i := 2; i < len(l); i++ {
			if !isHex(l[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return l != ""
}

// parseIPLiteral reads "[IPv6]" with an optional ":port" (RFC 3986
// §3.2.2 IP-literal, without IPvFuture).
func parseIPLiteral(s string) (Host, error) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return Host{}, errHostIPLiteral
	}
	lit, rest := s[1:end], s[end+1:]
	if !validIPv6Text(lit) { // no zone ("%"), no IPvFuture ("v1.x")
		return Host{}, errHostIPLiteral
	}
	a, err := netip.ParseAddr(lit)
	if err != nil || !a.Is6() || a.Is4In6() {
		return Host{}, errHostIPLiteral
	}
	if rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
		return Host{}, errHostPort
	}
	var buf [64]byte
	canon := a.AppendTo(buf[:0])
	if string(canon) == lit { // compared without allocating
		return Host{Name: lit, Authority: s}, nil
	}
	name := string(canon)
	return Host{Name: name, Authority: "[" + name + "]" + rest}, nil
}

// validIPv6Text reports whether s has only the characters of an IPv6
// address (RFC 4291 §2.2, with an embedded IPv4 part).
func validIPv6Text(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isHex(c) && c != ':' && c != '.' {
			return false
		}
	}
	return s != ""
}

// validPort reports whether p is 1 to 65535 written in digits without a
// leading zero (RFC 3986 §3.2.3 allows any digits; no client sends more).
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// requestHost is the authority r is for, as ParseHost reads it. net/http
// puts it in r.Host from the absolute-form target (which RFC 9112 §3.2.2
// says wins over the Host header), the Host header, or :authority.
//
// A request without any is allowed only over HTTP/1.0, where Host was
// optional: it names no host, so only routes without hosts apply and the
// upstream gets no X-Forwarded-Host. From HTTP/1.1 on the target URI of an
// http(s) request has a host, and one with an empty host is invalid (RFC
// 9110 §4.2.1, §4.2.2; RFC 9112 §3.2 has net/http refuse a missing Host).
func requestHost(r *http.Request) (Host, error) {
	if r.URL != nil && r.URL.Scheme != "" && r.URL.Host == "" {
		// "GET https:///x": net/http falls back to the Host header, but
		// the target names the authority, and it names none.
		return Host{}, errHostNoTarget
	}
	if r.Host == "" {
		if r.ProtoAtLeast(1, 1) {
			return Host{}, errHostEmpty
		}
		return Host{}, nil
	}
	return ParseHost(r.Host)
}
