package gateway

import (
	"net"
	"net/http"
	"slices"
	"strings"
)

// redirectHandler serves the http listener while TLS is on: ACME HTTP-01
// challenges (acme mode), and a permanent redirect to https for everything
// else — but only for a host we serve. Redirecting to whatever Host a client
// sent would make us an open redirector for any name pointed at our address.
func (s *Server) redirectHandler() http.Handler {
	_, httpsPort, _ := net.SplitHostPort(s.cfg.Listen.HTTPS)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, ok := redirectHost(r.Host)
		if !ok || !s.servesHost(host) {
			s.writeError(w, r, errUnknownHost)
			return
		}
		// Only a request for a path has an https twin: "*" (RFC 9112
		// §3.2.4) would make a Location of "https://host:port*", and
		// CONNECT's authority-form (§3.2.3) names no resource at all.
		target := r.URL.RequestURI()
		if r.Method == http.MethodConnect || !strings.HasPrefix(target, "/") {
			s.writeError(w, r, ErrBadPath)
			return
		}
		authority := host
		if strings.Contains(host, ":") { // IPv6 literal
			authority = "[" + host + "]"
		}
		if httpsPort != "" && httpsPort != "443" {
			authority += ":" + httpsPort
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "https://"+authority+target, http.StatusPermanentRedirect)
	})
	if s.certs.acme != nil {
		// autocert answers /.well-known/acme-challenge/ for hosts its policy
		// allows and hands everything else to h.
		return s.certs.acme.HTTPHandler(h)
	}
	return h
}

// servesHost reports whether host (lowercase, no port) is one of ours: in
// acme mode a host of the certificate policy; otherwise a host some route
// serves, or a name on the self-signed or configured certificate.
func (s *Server) servesHost(host string) bool {
	if slices.Contains(s.certs.hosts, host) {
		return true
	}
	return s.certs.acme == nil && s.routing.Load().router.ServesHost(host)
}

// redirectHost lowercases a Host header, drops its port and a trailing dot,
// and rejects anything that is not a plausible DNS name or IP literal.
func redirectHost(hostport string) (string, bool) {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" || len(host) > 253 {
		return "", false
	}
	if net.ParseIP(host) != nil {
		return host, true
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", false
		}
	}
	return host, true
}
