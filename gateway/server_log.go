package gateway

import "strings"

// logStartup says which stores are in use and which routes are served —
// the first thing an operator looks for, with where each listener is
// bound (logListeners, once they are).
func (s *Server) logStartup() {
	s.logger.Info("authgate starting", "version", s.version, "config", s.configPath)
	s.logger.Info("stores", s.accounts.Describe()...)
	for i, r := range s.cfg.Routes {
		auth := r.Auth
		if len(r.Roles) > 0 {
			auth += " roles=" + strings.Join(r.Roles, ",")
		}
		s.logger.Info("route", "index", i, "name", r.Name, "hosts", r.Hosts, "path", r.Path,
			"methods", r.Methods, "auth", auth, "upstream", r.Upstream)
		if opensTunnel(r.Upgrades) {
			s.logger.Warn("route lets clients switch to a protocol authgate cannot see into", "name", r.Name, "upgrades", r.Upgrades)
		}
	}
	logWarnings(s.logger, s.cfg)
}

// logListeners says where each listener is bound and what it serves. The
// addresses are the bound ones, not the configured ones: with port 0 the
// kernel picks the port, and this line is where a supervisor (or a test
// running the binary) reads which it picked. A disabled listener is not
// named.
func (s *Server) logListeners(servers []*listener) {
	attrs := []any{"tls", s.certs.mode}
	for _, ls := range servers {
		addr := ls.ln.Addr().String()
		switch {
		case ls.name == "http" && s.certs.mode == tlsOff:
			addr += " (serves routes, no TLS)"
		case ls.name == "http":
			addr += " (ACME HTTP-01 and redirect to https)"
		case ls.name == "ops":
			addr += " (/healthz /readyz /metrics)"
		}
		attrs = append(attrs, ls.name, addr)
	}
	if s.certs.selfSignedFile != "" {
		attrs = append(attrs, "certificate", s.certs.selfSignedFile)
	}
	if s.certs.acme != nil {
		attrs = append(attrs, "acme_hosts", s.certs.hosts)
	}
	s.logger.Info("listeners", attrs...)
}
