package authn

import (
	"path"
	"strings"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/conf"
)

// Config is the auth_api section of config.yaml: where the account API
// lives, its cookies and its rate limits.
type Config struct {
	Prefix     string `yaml:"prefix"`      // default "/auth"
	CookieName string `yaml:"cookie_name"` // default "authgate"; sent as __Host-<name>
	// CookieDomain scopes the access cookie to a parent domain, for
	// forward-auth with one login host for apps on sibling hosts
	// ("example.com": sent to app.example.com too). The cookie is then
	// __Secure-<name> with Domain set, since __Host- forbids a Domain;
	// every host under the domain receives it (and can set one). Default
	// "": a host-only __Host- cookie. The CSRF and refresh cookies stay
	// host-only either way.
	CookieDomain string `yaml:"cookie_domain"`
	// LoginLimit is failed logins allowed per username and per client IP,
	// as "N/unit" with unit sec, min or hour. Default "5/min".
	LoginLimit string `yaml:"login_limit"`
	// RegisterLimit is registrations (every POST {prefix}/register that
	// gets past request validation, whatever its outcome) allowed per
	// client address, written like LoginLimit; as many may be in progress
	// at once per address. Default "10/hour": a person signs up once, an
	// office behind one address a few times an hour; a script creating
	// accounts is held to ten an hour per address.
	RegisterLimit string `yaml:"register_limit"`
	// Compat "fastapi" answers as the FastAPI original where an unchanged
	// client of it would notice (compat.go); "", the default, is
	// authgate's own API.
	Compat string `yaml:"compat"`
	// LocalLogin shows the username and password form on the login page
	// and accepts POST {prefix}/login. Default true; false when every user
	// signs in through identity_providers (the form is then not shown and
	// a password login is refused with 403).
	LocalLogin *bool `yaml:"local_login"`
}

// LocalLoginEnabled reports whether username and password logins are on.
func (c Config) LocalLoginEnabled() bool { return c.LocalLogin == nil || *c.LocalLogin }

// Defaults of the auth_api section.
const (
	defaultPrefix        = "/auth"
	defaultCookieName    = "authgate"
	defaultLoginLimit    = "5/min"
	defaultRegisterLimit = "10/hour"
)

// SetDefaults fills what the file left out. The loader calls it once;
// nothing after it re-derives a default.
func (c *Config) SetDefaults() {
	for _, f := range []struct {
		v   *string
		def string
	}{
		{&c.Prefix, defaultPrefix},
		{&c.CookieName, defaultCookieName},
		{&c.LoginLimit, defaultLoginLimit},
		{&c.RegisterLimit, defaultRegisterLimit},
	} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
}

// Validate reports every problem of the section, at key paths from the top
// of the file ("auth_api.prefix"). It expects SetDefaults to have run and
// changes nothing.
func (c Config) Validate() error {
	var p conf.Problems

	switch pre := c.Prefix; {
	case !strings.HasPrefix(pre, "/"):
		p.Addf("auth_api.prefix", "%q must start with \"/\"", pre)
	case pre == "/":
		p.Addf("auth_api.prefix", "must not be \"/\": the auth API needs a path of its own, e.g. /auth")
	case strings.HasSuffix(pre, "/"):
		p.Addf("auth_api.prefix", "%q must not end with \"/\"", pre)
	case path.Clean(pre) != pre:
		p.Addf("auth_api.prefix", "%q is not a clean path: write %q", pre, path.Clean(pre))
	case strings.IndexFunc(pre, func(r rune) bool { return !isPrefixRune(r) }) >= 0:
		p.Addf("auth_api.prefix", "%q may only hold letters, digits and -._~/", pre)
	}
	switch c.Compat {
	case "", compatFastAPI:
	default:
		p.Addf("auth_api.compat", "%q must be fastapi or empty", c.Compat)
	}
	if !isCookieToken(c.CookieName) {
		p.Addf("auth_api.cookie_name", "%q is not a valid cookie name: use letters, digits and -_ (RFC 6265 §4.1.1)", c.CookieName)
	}
	if d := c.CookieDomain; d != "" && !isCookieDomain(d) {
		p.Addf("auth_api.cookie_domain", "%q is not a domain name: lower-case labels of letters, digits and \"-\", at least two, no leading dot, no IP address (RFC 6265 §5.2.3)", d)
	}
	if _, _, err := accounts.ParseRate(c.LoginLimit); err != nil {
		p.Add("auth_api.login_limit", err)
	}
	if _, _, err := accounts.ParseRate(c.RegisterLimit); err != nil {
		p.Add("auth_api.register_limit", err)
	}
	return p.Err()
}

func isPrefixRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~/", r)
}

// isCookieToken reports whether s is an RFC 6265 §4.1.1 cookie-name: an
// RFC 2616 token (visible ASCII without separators).
func isCookieToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// isCookieDomain reports whether d can be a cookie's Domain attribute as
// authgate writes it: a lower-case DNS name of two labels or more, without
// the leading dot (RFC 6265 §5.2.3 ignores it) and not an IP address,
// which browsers accept only as a host-only cookie.
func isCookieDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 || len(d) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.IndexFunc(last, func(r rune) bool { return r < '0' || r > '9' }) >= 0
}
