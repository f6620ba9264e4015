package gateway

import (
	"net/http"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/problem"
)

// redirectHandler serves the http listener while TLS is on: ACME HTTP-01
// challenges (acme mode), and a permanent redirect to https for everything
// else — but only for a host we serve. Redirecting to whatever Host a client
// sent would make us an open redirector for any name pointed at our address.
// httpsPort is the port the https listener is bound to (with listen.https
// on port 0, not the configured one).
func (s *Server) redirectHandler(httpsPort string) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The same reading of the Host as the https side routes on: a
		// malformed one is a 400 there, and here too.
		host, err := requestHost(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if host.Name == "" || !s.servesHost(host.Name) {
			s.writeError(w, r, problem.ErrUnknownHost)
			return
		}
		// Only a request for a path has an https twin: "*" (RFC 9112
		// §3.2.4) would make a Location of "https://host:port*", and
		// CONNECT's authority-form (§3.2.3) names no resource at all.
		target := r.URL.RequestURI()
		if r.Method == http.MethodConnect || !strings.HasPrefix(target, "/") {
			s.writeError(w, r, problem.ErrBadPath)
			return
		}
		authority := host.Name
		if strings.IndexByte(authority, ':') >= 0 { // IPv6 address
			authority = "[" + authority + "]"
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

// servesHost reports whether host (a Host.Name) is one of ours: in
// acme mode a host of the certificate policy; otherwise a host some route
// serves, or a name on the self-signed or configured certificate.
func (s *Server) servesHost(host string) bool {
	if slices.Contains(s.certs.hosts, host) {
		return true
	}
	return s.certs.acme == nil && s.routing.Load().router.ServesHost(host)
}
