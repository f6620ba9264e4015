package authn

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// SameOrigin reports whether r's Origin header names the origin r was sent
// to (RFC 6454 §4): the same host, compared without regard to case
// (RFC 3986 §3.2.2), and the same port, where a scheme's default port
// (https 443, http 80) counts the same written or left out. The schemes
// are not compared: behind a proxy that terminates TLS the gateway cannot
// see the client's. A missing, "null" or unparsable Origin is never the
// same origin.
//
// It is the one Origin check: the CSRF defences of the auth API use it,
// and so does the gateway for a WebSocket handshake that authenticates
// with a cookie.
func SameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return OriginIs(o, scheme, r.Host)
}

// OriginIs reports whether origin (an Origin header's value) names the
// same host and port as hostport, a request's authority reached over
// scheme, by SameOrigin's rules. Forward-auth uses it for the original
// request an ingress describes.
func OriginIs(origin, scheme, hostport string) bool {
	u, err := url.Parse(origin)
	if origin == "" || err != nil || u.Host == "" {
		return false
	}
	oh, op := originHostPort(u.Host, u.Scheme)
	rh, rp := originHostPort(hostport, scheme)
	return op == rp && strings.EqualFold(oh, rh)
}

// defaultPorts are the ports a URL of a scheme has when it names none.
var defaultPorts = map[string]string{"https": "443", "http": "80"}

// originHostPort splits hostport into its host and its port, the port
// left empty when it is scheme's default.
func originHostPort(hostport, scheme string) (host, port string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil { // no port
		host, port = hostport, ""
	}
	if port == defaultPorts[scheme] {
		port = ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), port
}
