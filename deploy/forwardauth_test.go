package deploy

import (
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate/gateway"
	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/testenv"
)

// forward-auth/config.yaml is the authgate side of every example ingress
// in forward-auth/: its verify path, identity header names and hosts are
// what the ingress configs must name. The tests read them from there, so a
// change on one side that the other does not follow fails.

// faConfig is what the ingress configs depend on in config.yaml.
type faConfig struct {
	verifyPath string // auth_api.prefix + "/verify"
	// headers are the identity headers the ingresses copy: user id,
	// username, email, roles, and the assertion's. The examples copy (and
	// clear) X-Auth-Jwt while identity_headers.assertion is unset, so that
	// turning it on needs no ingress change.
	headers       []string
	loginURL      string
	redirectHosts []string
	appHosts      []string // hosts of the forward-auth routes
	raw           faConfigFile
}

type faConfigFile struct {
	Listen struct {
		HTTPS string `yaml:"https"`
		HTTP  string `yaml:"http"`
	} `yaml:"listen"`
	TLS struct {
		Mode string `yaml:"mode"`
	} `yaml:"tls"`
	TrustedProxies []string `yaml:"trusted_proxies"`
	Redis          struct {
		OnError string `yaml:"on_error"`
	} `yaml:"redis"`
	AuthAPI struct {
		Prefix       string `yaml:"prefix"`
		CookieDomain string `yaml:"cookie_domain"`
	} `yaml:"auth_api"`
	ForwardAuth struct {
		LoginURL      string   `yaml:"login_url"`
		RedirectHosts []string `yaml:"redirect_hosts"`
	} `yaml:"forward_auth"`
	IdentityHeaders struct {
		UserID    string `yaml:"user_id"`
		Username  string `yaml:"username"`
		Email     string `yaml:"email"`
		Roles     string `yaml:"roles"`
		Assertion string `yaml:"assertion"`
	} `yaml:"identity_headers"`
	Routes []struct {
		Name     string   `yaml:"name"`
		Hosts    []string `yaml:"hosts"`
		Upstream string   `yaml:"upstream"`
	} `yaml:"routes"`
}

const faConfigFileName = "forward-auth/config.yaml"

// defaultAssertionHeader is the assertion header the example ingresses
// copy while config.yaml sets none.
const defaultAssertionHeader = "X-Auth-Jwt"

func readFAConfig(t *testing.T) faConfig {
	t.Helper()
	var c faConfig
	if err := yaml.Unmarshal(readFile(t, faConfigFileName), &c.raw); err != nil {
		t.Fatalf("%s: %v", faConfigFileName, err)
	}
	r := c.raw
	prefix := r.AuthAPI.Prefix
	if prefix == "" {
		prefix = "/auth"
	}
	c.verifyPath = prefix + "/verify"
	h := r.IdentityHeaders
	assertion := h.Assertion
	if assertion == "" {
		assertion = defaultAssertionHeader
	}
	c.headers = []string{h.UserID, h.Username, h.Email, h.Roles, assertion}
	if slices.Contains(c.headers, "") {
		t.Fatalf("%s: identity_headers: name every header (%q), so that the ingress configs can be checked against them", faConfigFileName, c.headers)
	}
	c.loginURL = r.ForwardAuth.LoginURL
	c.redirectHosts = r.ForwardAuth.RedirectHosts
	for _, rt := range r.Routes {
		for _, host := range rt.Hosts {
			if !slices.Contains(c.appHosts, host) {
				c.appHosts = append(c.appHosts, host)
			}
		}
	}
	return c
}

// loginHost is the host of forward_auth.login_url, where the examples
// serve authgate's login page and auth API.
func (c faConfig) loginHost(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(c.loginURL)
	if err != nil || u.Hostname() == "" {
		t.Fatalf("%s: forward_auth.login_url %q: want an absolute URL", faConfigFileName, c.loginURL)
	}
	return u.Hostname()
}

// sameHeaders reports whether two lists name the same headers, in any
// order and case.
func sameHeaders(a, b []string) bool {
	norm := func(l []string) []string {
		out := make([]string, len(l))
		for i, h := range l {
			out[i] = strings.ToLower(strings.TrimSpace(h))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

// TestForwardAuthConfig checks the choices config.yaml must make for
// forward-auth mode to be safe: who is believed, where browsers go, which
// hosts they may come back to, and that no route proxies.
func TestForwardAuthConfig(t *testing.T) {
	c := readFAConfig(t)
	r := c.raw
	if len(r.TrustedProxies) == 0 {
		t.Errorf("%s: trusted_proxies is empty: authgate would refuse every check", faConfigFileName)
	}
	for _, p := range r.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				t.Errorf("%s: trusted_proxies %q: %v", faConfigFileName, p, err)
				continue
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		if pfx.Bits() < 16 {
			t.Errorf("%s: trusted_proxies %q believes a whole network: name the ingress's own address", faConfigFileName, p)
		}
	}
	if r.Redis.OnError != "deny" {
		t.Errorf("%s: redis.on_error %q; want deny: checks fail closed", faConfigFileName, r.Redis.OnError)
	}
	if r.TLS.Mode != "off" || r.Listen.HTTP == "" {
		t.Errorf("%s: tls.mode %q, listen.http %q: behind an ingress authgate serves plain HTTP on listen.http", faConfigFileName, r.TLS.Mode, r.Listen.HTTP)
	}
	login, err := url.Parse(c.loginURL)
	if err != nil || login.Scheme != "https" || login.Host == "" || login.RawQuery != "" {
		t.Errorf("%s: forward_auth.login_url %q: want an absolute https URL without a query (authgate appends ?rd=)", faConfigFileName, c.loginURL)
	} else if login.Path != c.raw.AuthAPI.Prefix+"/login" {
		t.Errorf("%s: forward_auth.login_url %q: want authgate's own login page, %s/login", faConfigFileName, c.loginURL, c.raw.AuthAPI.Prefix)
	}
	if len(c.appHosts) == 0 {
		t.Errorf("%s: no route names a host: an ingress has no host to protect", faConfigFileName)
	}
	for _, h := range c.appHosts {
		if !slices.Contains(c.redirectHosts, h) {
			t.Errorf("%s: route host %s is not in forward_auth.redirect_hosts: its users would not get back after signing in", faConfigFileName, h)
		}
	}
	for _, rt := range r.Routes {
		if rt.Upstream != "none" {
			t.Errorf("%s: route %s: upstream %q; want none: the ingress proxies, authgate only judges", faConfigFileName, rt.Name, rt.Upstream)
		}
	}
	// The session cookie must reach the login host and every app host.
	if d := r.AuthAPI.CookieDomain; d != "" {
		for _, h := range append([]string{login.Hostname()}, c.appHosts...) {
			if h != d && !strings.HasSuffix(h, "."+d) {
				t.Errorf("%s: auth_api.cookie_domain %q does not cover %s", faConfigFileName, d, h)
			}
		}
	} else if slices.ContainsFunc(c.appHosts, func(h string) bool { return h != login.Hostname() }) {
		t.Errorf("%s: the login page is on %s, the apps on %q, and auth_api.cookie_domain is empty: the session would not reach them", faConfigFileName, login.Hostname(), c.appHosts)
	}
}

// TestForwardAuthConfigLoads loads config.yaml with authgate's own loader,
// its environment variables set to placeholders.
func TestForwardAuthConfigLoads(t *testing.T) {
	text := readFile(t, faConfigFileName)
	d := deployment{name: "forward-auth", configFile: "deploy/" + faConfigFileName, config: text, given: map[string]string{}}
	refs, err := yamlRefs(text, configRefs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		d.given[r.Name] = "test"
	}
	cfgPath := stageConfig(t, d)
	setConfigEnv(t, d, func(name string) string { return placeholderValue(t, name) })
	if _, err := gateway.Load(cfgPath); err != nil {
		for _, e := range conf.Unjoin(err) {
			t.Errorf("%s: %v", faConfigFileName, e)
		}
	}
}

// TestNginxConfigTest runs `nginx -t` on the shipped nginx.conf with
// authgate.conf beside it, their addresses and certificate paths made
// local.
func TestNginxConfigTest(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := tlsFiles(t, dir, "app.example.com", "auth.example.com")
	site := shipped(t, "nginx/authgate.conf",
		"server authgate:8080;", "server 127.0.0.1:8080;",
		"server app:3000;", "server 127.0.0.1:3000;",
		"/etc/nginx/tls/example.com.crt", cert,
		"/etc/nginx/tls/example.com.key", key,
	)
	for name, text := range map[string]string{"nginx.conf": shipped(t, "nginx/nginx.conf"), "authgate.conf": site} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, ok := testenv.NginxTest(t, filepath.Join(dir, "nginx.conf")); !ok {
		t.Errorf("nginx -t refuses forward-auth/nginx/nginx.conf:\n%s", out)
	}
}

// TestCaddyfileValidates has Caddy adapt and provision the shipped
// Caddyfile as it is, and holds it to caddy fmt.
func TestCaddyfileValidates(t *testing.T) {
	const file = "forward-auth/caddy/Caddyfile"
	if out, err := testenv.CaddyCommand(t, "validate", "--config", file, "--adapter", "caddyfile").CombinedOutput(); err != nil {
		t.Errorf("caddy validate %s: %v\n%s", file, err, out)
	}
	out, err := testenv.CaddyCommand(t, "fmt", file).Output()
	if err != nil {
		t.Fatalf("caddy fmt %s: %v", file, err)
	}
	if string(out) != string(readFile(t, file)) {
		t.Errorf("%s is not as caddy fmt writes it: run caddy fmt --overwrite", file)
	}
}
