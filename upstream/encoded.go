package upstream

import "net/http"

// Identity values that are not visible ASCII — a username "张三", an
// address with an accented local part — are sent raw (UTF-8) in their
// header, as before, and also percent-encoded in a companion header
// named with encodedSuffix: X-Auth-User-Encoded: %E5%BC%A0%E4%B8%89.
// HTTP header values are bytes, and many stacks (WSGI's PEP 3333, most
// CGI-style servers) read them as ISO-8859-1, turning raw UTF-8 into
// mojibake; the companion is plain ASCII and lossless (RFC 3986
// percent-encoding of the UTF-8 bytes; decode with urllib.parse.unquote,
// decodeURIComponent, url.PathUnescape). It is sent only when the value
// needs it, so a backend reads the companion when present and the raw
// header otherwise; a client's copy of either never reaches the backend
// (issue 12).
const encodedSuffix = "-Encoded"

// putEncoded sets h[name] to the percent-encoded v when v holds a byte
// that is not visible ASCII, and does nothing otherwise: an ASCII value
// costs a scan and no allocation.
func putEncoded(h http.Header, name, v string, vals []string) []string {
	if name == "" || isVisibleASCII(v) {
		return vals
	}
	return put(h, name, percentEncode(v), vals)
}

func isVisibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// percentEncode encodes every byte of s that is not an RFC 3986
// unreserved character (ALPHA / DIGIT / "-" / "." / "_" / "~") as %XX,
// keeping "@" and "," readable: they are never ambiguous in these values
// (an address, a role list) and the result decodes the same.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)*3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '@', c == ',':
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}
