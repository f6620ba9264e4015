package gateway

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/provider"
)

// Validate reports every problem in c as path-addressed conf.Problems
// (errors.Join of *conf.Problem). It expects defaults to have been applied,
// as Load does. It is pure: it builds nothing and changes nothing, though
// it stats the files the config names and reads the token keys (what the
// start would refuse in them is a problem here too).
func (c *Config) Validate() error {
	var p conf.Problems
	c.validateListen(&p)
	c.validateTLS(&p)
	for i, tp := range c.TrustedProxies {
		validateTrustedProxy(&p, fmt.Sprintf("trusted_proxies[%d]", i), tp)
	}
	p.Merge("", c.Database.Validate())
	p.Merge("", c.Redis.Validate())
	if err := c.Tokens.Validate(); err != nil {
		p.Merge("", err)
	} else {
		p.Merge("", c.Tokens.CheckKeyFiles())
	}
	p.Merge("", c.Accounts.Validate())
	p.Merge("", c.AuthAPI.Validate())
	p.Merge("", c.Federation.Validate())
	for i, pc := range c.Federation.IdentityProviders {
		if pc.PassToken {
			// No route can forward a provider's token yet: accepting the
			// key would promise what nothing does.
			p.Addf(fmt.Sprintf("identity_providers[%d].pass_token", i), "is not supported: no route forwards a provider's token to its backend")
		}
	}
	if !c.AuthAPI.LocalLoginEnabled() && len(c.Federation.IdentityProviders) == 0 {
		p.Addf("auth_api.local_login", "false leaves nothing to sign in with: configure identity_providers, or keep the local form")
	}
	p.Merge("", c.OAuth2.Validate(provider.TokenSettings{
		Issuer: c.Tokens.Issuer, Audience: c.Tokens.Audience, Algorithm: c.Tokens.Algorithm,
	}))
	p.Merge("", c.Upstream.Validate())
	c.validateRoutes(&p)
	c.validateForwardAuth(&p)
	c.validateOperations(&p)
	return p.Err()
}

// validateOperations checks limits, runtime and log, the sections authgate
// adds to DESIGN.md's config.
func (c *Config) validateOperations(p *conf.Problems) {
	l := c.Limits
	if l.MaxHeaderBytes < 4096 || l.MaxHeaderBytes > 1<<20 {
		p.Addf("limits.max_header_bytes", "%d is out of range: must be 4096 to 1048576", l.MaxHeaderBytes)
	}
	if l.MaxConcurrentStreams < 1 || l.MaxConcurrentStreams > 10000 {
		p.Addf("limits.max_concurrent_streams", "%d is out of range: must be 1 to 10000", l.MaxConcurrentStreams)
	}
	if d := l.ShutdownDelay.D(); d > 5*time.Minute {
		p.Addf("limits.shutdown_delay", "%s is too long: must be at most 5m (a little more than the load balancer's check interval)", d)
	}
	if d := c.Runtime.ReleaseMemoryAfter.D(); d > 0 && d < time.Second {
		p.Addf("runtime.release_memory_after", "%s is too short: must be 0s (off) or at least 1s", d)
	}
	if c.Runtime.GOGC < -1 || c.Runtime.GOGC == 0 {
		p.Addf("runtime.gogc", "%d must be a positive percentage, or -1 to turn the collector off (then set memory_limit)", c.Runtime.GOGC)
	}
	if n, err := ParseBytes(c.Runtime.MemoryLimit); err != nil || n < 32<<20 {
		p.Addf("runtime.memory_limit", "%q must be a size of at least 32MiB, like \"512MiB\" or \"2GiB\"", c.Runtime.MemoryLimit)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		p.Addf("log.level", "%q must be one of debug, info, warn, error", c.Log.Level)
	}
}

func (c *Config) validateListen(p *conf.Problems) {
	addrs := []struct{ key, addr string }{
		{"https", c.Listen.HTTPS},
		{"http", c.Listen.HTTP},
		{"ops", c.Listen.Ops},
	}
	seen := map[string]string{}
	for _, a := range addrs {
		if a.addr == "" {
			continue // disabled
		}
		path := "listen." + a.key
		if msg := listenAddrProblem(a.addr); msg != "" {
			p.Addf(path, "%q %s", a.addr, msg)
			continue
		}
		if _, port, _ := net.SplitHostPort(a.addr); port == "0" {
			continue // the kernel gives each listener a port of its own
		}
		if first, dup := seen[a.addr]; dup {
			p.Addf(path, "%q is also listen.%s", a.addr, first)
			continue
		}
		seen[a.addr] = a.key
	}
	if c.Listen.HTTPS == "" && c.Listen.HTTP == "" {
		p.Addf("listen", "https and http are both disabled: enable at least one")
	}
}

// listenAddrProblem checks a host:port listen address; the port must be a
// number (a service name would depend on /etc/services).
func listenAddrProblem(addr string) string {
	const rule = `is not host:port, e.g. ":8443" or "127.0.0.1:9090"`
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return rule
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "has an invalid port: " + rule
	}
	if host != "" && strings.ContainsAny(host, " /\\") {
		return "has an invalid host: " + rule
	}
	return ""
}

func (c *Config) validateTLS(p *conf.Problems) {
	t := &c.TLS
	switch t.Mode {
	case "off":
		if c.Listen.HTTPS != "" {
			p.Addf("listen.https", `must be "" when tls.mode is off`)
		}
	case "acme", "files", "self_signed":
		if c.Listen.HTTPS == "" {
			p.Addf("tls.mode", `%s needs the https listener, which listen.https "" disables: set tls.mode: off to serve plain HTTP only`, t.Mode)
		}
	default:
		p.Addf("tls.mode", "%q must be acme, files, self_signed or off", t.Mode)
	}
	if t.Mode == "acme" {
		c.validateACME(p)
	}
	if t.Mode == "files" {
		for _, f := range []struct{ key, name string }{{"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
			if f.name == "" {
				p.Addf("tls."+f.key, "required with tls.mode: files")
			} else if msg := fileProblem(f.name); msg != "" {
				p.Addf("tls."+f.key, "%s", msg)
			}
		}
	}
	if t.HSTS != nil && *t.HSTS != "" && !validHSTS(*t.HSTS) {
		p.Addf("tls.hsts", `%q must hold max-age=SECONDS, e.g. "max-age=31536000; includeSubDomains" (RFC 6797 §6.1)`, *t.HSTS)
	}
}

func (c *Config) validateACME(p *conf.Problems) {
	a := &c.TLS.ACME
	if a.Email != "" {
		if _, err := mail.ParseAddress(a.Email); err != nil {
			p.Addf("tls.acme.email", "%q is not an email address", a.Email)
		}
	}
	for i, h := range a.Hosts {
		path := fmt.Sprintf("tls.acme.hosts[%d]", i)
		switch {
		case strings.Contains(h, "*"):
			p.Addf(path, "%q: certificates are issued over HTTP-01 and TLS-ALPN-01, which cannot prove a wildcard: list exact names", h)
		case isIPLiteral(h):
			p.Addf(path, "%q: certificates are issued for host names, not IP addresses", h)
		default:
			if msg := dnsNameProblem(h); msg != "" {
				p.Addf(path, "%q %s", h, msg)
			}
		}
	}
	if len(a.Hosts) == 0 && !c.hasExactRouteHost() {
		p.Addf("tls.acme.hosts", "tls.mode acme needs the names to get certificates for: list them here, or give routes exact hosts")
	}
	if u, err := url.Parse(a.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" {
		p.Addf("tls.acme.directory_url", "%q must be an https:// URL", a.DirectoryURL)
	}
	if a.CAFile != "" {
		if msg := fileProblem(a.CAFile); msg != "" {
			p.Addf("tls.acme.ca_file", "%s", msg)
		}
	}
	if a.Cache == "" {
		p.Addf("tls.acme.cache", `must be a directory or "database"`)
	}
}

// hasExactRouteHost reports whether some route names a host that ACME can
// get a certificate for: not a wildcard, not an IP address.
func (c *Config) hasExactRouteHost() bool {
	for _, rt := range c.Routes {
		for _, h := range rt.Hosts {
			if !strings.HasPrefix(h, "*.") && !isIPLiteral(h) {
				return true
			}
		}
	}
	return false
}

// validHSTS checks for the one required directive of RFC 6797 §6.1.
func validHSTS(v string) bool {
	for d := range strings.SplitSeq(v, ";") {
		name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
		if ok && strings.EqualFold(strings.TrimSpace(name), "max-age") {
			_, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
			return err == nil
		}
	}
	return false
}

func validateTrustedProxy(p *conf.Problems, path, s string) {
	pre, ok := parseTrustedProxy(s)
	if !ok {
		p.Addf(path, "%q is not a CIDR (10.0.0.0/8) or an IP address", s)
		return
	}
	if pre.Bits() == 0 {
		// Believing X-Forwarded-For from everyone lets any client choose the
		// address that login throttling and logs see.
		p.Addf(path, "%q trusts every address: name the networks of your proxies", s)
	}
}

// parseTrustedProxy reads one trusted_proxies entry: a CIDR, or an address
// (a prefix of its own length; an IPv4-mapped one as IPv4). Validation and
// the routing both read the list with it.
func parseTrustedProxy(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		pre, err := netip.ParsePrefix(s)
		return pre.Masked(), err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// fileProblem checks that name is an existing regular file.
func fileProblem(name string) string {
	fi, err := os.Stat(name)
	switch {
	case os.IsNotExist(err):
		return fmt.Sprintf("file %s does not exist", name)
	case err != nil:
		return fmt.Sprintf("file %s cannot be read: %v", name, err)
	case !fi.Mode().IsRegular():
		return fmt.Sprintf("%s is not a regular file", name)
	}
	return ""
}

func isIPLiteral(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}
