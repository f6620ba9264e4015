package gateway

import (
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/conf"
)

// Defaults, resolved once at load time; nothing on the request path
// re-derives configuration.
const (
	defaultHTTPS         = ":8443"
	defaultHTTP          = ":8080"
	defaultOps           = "127.0.0.1:9090"
	defaultHSTS          = "max-age=31536000"
	defaultACMEURL       = "https://acme-v02.api.letsencrypt.org/directory"
	defaultACMECache     = "certs/acme"
	defaultParkIdleAfter = time.Second
)

// applyDefaults fills what the file leaves out. For most keys a zero value
// means "default". The listeners, tls.hsts and the identity header names
// are different: "" turns them off, so only an absent key gets the
// default — present(path) tells, from the YAML tree. A key written with no
// value at all ("https:" or "https: ~") counts as present and empty.
//
// Names are normalised here too: tls.acme.hosts and route hosts are
// lower-cased without a trailing dot (route hosts also lose IPv6
// brackets), route methods upper-cased. A route without auth is protected
// — "required" — so that forgetting the key fails closed. A route without
// path matches every path ("/").
func applyDefaults(c *Config, present func(path string) bool) {
	orDefault := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	ifAbsent := func(path string, s *string, v string) {
		if !present(path) {
			*s = v
		}
	}
	durDefault := func(d *conf.Duration, v time.Duration) {
		if *d == 0 {
			*d = conf.Duration(v)
		}
	}

	ifAbsent("listen.https", &c.Listen.HTTPS, defaultHTTPS)
	ifAbsent("listen.http", &c.Listen.HTTP, defaultHTTP)
	ifAbsent("listen.ops", &c.Listen.Ops, defaultOps)

	orDefault(&c.TLS.Mode, "self_signed")
	for i, h := range c.TLS.ACME.Hosts {
		c.TLS.ACME.Hosts[i] = strings.ToLower(strings.TrimSuffix(h, "."))
	}
	orDefault(&c.TLS.ACME.DirectoryURL, defaultACMEURL)
	orDefault(&c.TLS.ACME.Cache, defaultACMECache)
	switch {
	case !present("tls.hsts"):
		v := defaultHSTS
		c.TLS.HSTS = &v
	case c.TLS.HSTS == nil: // "hsts:" with no value
		c.TLS.HSTS = new(string)
	}

	c.Database.SetDefaults()
	c.Redis.SetDefaults()
	c.Tokens.SetDefaults()
	c.Accounts.SetDefaults()
	c.AuthAPI.SetDefaults()
	c.Federation.SetDefaults()
	c.OAuth2.SetDefaults()

	c.Upstream.SetDefaults(present)

	fa := &c.ForwardAuth
	for i, h := range fa.RedirectHosts {
		fa.RedirectHosts[i] = strings.ToLower(strings.TrimSuffix(h, "."))
	}
	if !present("forward_auth.redirect_hosts") {
		for _, rt := range c.Routes {
			if rt.Upstream != UpstreamNone {
				continue
			}
			for _, h := range rt.Hosts {
				if h = strings.ToLower(strings.TrimSuffix(h, ".")); !slices.Contains(fa.RedirectHosts, h) {
					fa.RedirectHosts = append(fa.RedirectHosts, h)
				}
			}
		}
	}

	l := &c.Limits
	durDefault(&l.ReadHeaderTimeout, 10*time.Second)
	durDefault(&l.IdleTimeout, 120*time.Second)
	durDefault(&l.ShutdownTimeout, 30*time.Second)
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = 250
	}
	if !present("limits.park_idle_after") {
		l.ParkIdleAfter = conf.Duration(defaultParkIdleAfter)
	}
	if c.Runtime.GOGC == 0 {
		c.Runtime.GOGC = defaultGOGC
	}
	orDefault(&c.Runtime.MemoryLimit, defaultMemoryLimit)
	if !present("runtime.release_memory_after") {
		c.Runtime.ReleaseMemoryAfter = conf.Duration(defaultReleaseMemoryAfter)
	}
	orDefault(&c.Log.Level, "info")
	if c.Log.Access == nil {
		v := true
		c.Log.Access = &v
	}

	for i := range c.Routes {
		rt := &c.Routes[i]
		for j, host := range rt.Hosts {
			host = strings.ToLower(strings.TrimSuffix(host, "."))
			if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
				host = host[1 : len(host)-1]
			}
			rt.Hosts[j] = host
		}
		for j, m := range rt.Methods {
			rt.Methods[j] = strings.ToUpper(m)
		}
		if len(rt.Upgrades) == 0 {
			rt.Upgrades = []string{"websocket"}
		}
		for j, u := range rt.Upgrades {
			rt.Upgrades[j] = strings.ToLower(u)
		}
		orDefault(&rt.Path, "/")
		orDefault(&rt.Auth, "required")
		if rt.LoginRedirect == nil {
			v := true
			rt.LoginRedirect = &v
		}
		orDefault(&rt.Name, derivedRouteName(rt))
	}
}

// derivedRouteName names a route without a name after what it matches:
// "app.example.com/api", "/api", or "GET,POST /api" when it lists methods
// (two routes differing only in methods must get different names).
func derivedRouteName(rt *Route) string {
	name := rt.Path
	if len(rt.Hosts) > 0 {
		name = rt.Hosts[0] + rt.Path
	}
	if len(rt.Methods) > 0 {
		name = strings.Join(rt.Methods, ",") + " " + name
	}
	return name
}

// resolveFiles makes the relative file names in c relative to dir, the
// directory of the config file, so that a config works the same whatever
// the working directory: the SQLite database, tls.cert_file and key_file,
// tls.acme.cache and ca_file, tokens.private_key_file and the verify_keys
// that are files rather than URLs. Defaults are resolved the same way
// (sqlite:data/authgate.db lands beside the config file). A config file
// named relatively keeps relative names: "config.yaml" in the working
// directory resolves "certs/tls.crt" to "certs/tls.crt".
func resolveFiles(c *Config, dir string) {
	rel := func(s *string) {
		if *s != "" && !filepath.IsAbs(*s) {
			*s = filepath.Join(dir, *s)
		}
	}
	db := &c.Database.URL
	if rest, ok := strings.CutPrefix(*db, "sqlite:"); ok {
		p := strings.TrimPrefix(rest, "//")
		if p != "" && !filepath.IsAbs(p) && !strings.HasPrefix(p, ":") { // ":memory:"
			*db = "sqlite:" + filepath.Join(dir, p)
		}
	}
	rel(&c.TLS.CertFile)
	rel(&c.TLS.KeyFile)
	rel(&c.TLS.ACME.CAFile)
	if c.TLS.ACME.Cache != "database" {
		rel(&c.TLS.ACME.Cache)
	}
	rel(&c.Tokens.PrivateKeyFile)
	for i := range c.Tokens.VerifyKeys {
		if !strings.Contains(c.Tokens.VerifyKeys[i], "://") {
			rel(&c.Tokens.VerifyKeys[i])
		}
	}
}
