package provider

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/authgate/authgate/internal/conf"
)

const (
	minSecretChars   = 32 // RFC 6749 §10.10: guessing a credential must be infeasible
	minSecretSymbols = 8  // distinct bytes: "aaaa…" is not a secret
	minBcryptCost    = 10
	maxClientIDLen   = 128
	maxRedirectLen   = 2000
)

// Validate reports every problem in the oauth2 section, with key paths
// from the top of the file ("oauth2.clients[1].redirect_uris[0]"), so the
// loader can add file:line:col. tokens carries the tokens settings the
// provider depends on; their problems are filed under oauth2.enabled,
// since turning the provider on is what makes them problems.
//
// Clients are checked even while the provider is disabled: a mistake is
// reported when it is written, not when the provider is switched on.
// Validate changes nothing and never repeats a secret.
func (c *Config) Validate(tokens TokenSettings) error {
	var p conf.Problems
	if c.Enabled {
		validateProviderTokens(&p, tokens)
	}
	seen := make(map[string]int, len(c.Clients))
	for i, cl := range c.Clients {
		kp := fmt.Sprintf("oauth2.clients[%d]", i)
		if j, dup := seen[cl.ID]; dup && cl.ID != "" {
			p.Addf(kp+".id", "%q is already the id of oauth2.clients[%d]", cl.ID, j)
		} else {
			seen[cl.ID] = i
		}
		cl.validate(&p, kp, tokens.Audience)
	}
	return p.Err()
}

func validateProviderTokens(p *conf.Problems, t TokenSettings) {
	switch t.Algorithm {
	case "RS256", "ES256", "EdDSA":
	default:
		// An HS256 ID token could only be verified with the secret that
		// also signs every access token: no client may hold it.
		p.Addf("oauth2.enabled", "needs tokens.algorithm RS256, ES256 or EdDSA (not %q): clients verify ID tokens with the public key", t.Algorithm)
	}
	if err := issuerProblem(t.Issuer); err != "" {
		p.Addf("oauth2.enabled", "needs tokens.issuer to be an https URL (%s): it is the issuer identifier clients check (RFC 8414 §2)", err)
	}
}

// issuerProblem says what keeps raw from being an issuer identifier, or "".
func issuerProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return fmt.Sprintf("%q is not an absolute URL", raw)
	case u.Scheme != "https":
		return fmt.Sprintf("%q does not use https", raw)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "it must have no user info, query or fragment"
	case strings.HasSuffix(u.Path, "/"):
		return fmt.Sprintf("write %q without the trailing slash: clients compare it exactly", raw)
	}
	return ""
}

func (cl ClientConfig) validate(p *conf.Problems, kp, audience string) {
	cl.validateID(p, kp, audience)
	cl.validateSecret(p, kp)
	grants := cl.validateGrants(p, kp)
	for i, u := range cl.RedirectURIs {
		if err := redirectURIProblem(u, cl.Public); err != "" {
			p.Addf(fmt.Sprintf("%s.redirect_uris[%d]", kp, i), "%s", err)
		} else if slices.Index(cl.RedirectURIs, u) < i {
			p.Addf(fmt.Sprintf("%s.redirect_uris[%d]", kp, i), "is listed twice")
		}
	}
	switch {
	case grants[GrantAuthorizationCode] && len(cl.RedirectURIs) == 0:
		p.Addf(kp+".redirect_uris", "required with the authorization_code grant: at least one exact URI")
	case !grants[GrantAuthorizationCode] && len(cl.RedirectURIs) > 0:
		p.Addf(kp+".redirect_uris", "are used only by the authorization_code grant, which this client does not have")
	}
	for i, s := range cl.Scopes {
		if !isScopeToken(s) {
			p.Addf(fmt.Sprintf("%s.scopes[%d]", kp, i), "%q is not a scope: printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)", s)
		} else if slices.Index(cl.Scopes, s) < i {
			p.Addf(fmt.Sprintf("%s.scopes[%d]", kp, i), "%q is listed twice", s)
		}
	}
	if len(cl.Roles) > 0 && !grants[GrantClientCredentials] {
		p.Addf(kp+".roles", "are the roles of client_credentials tokens, a grant this client does not have")
	}
	for i, r := range cl.Roles {
		if r == "" || strings.ContainsFunc(r, func(c rune) bool { return c == ',' || c <= ' ' || c == 0x7f }) {
			p.Addf(fmt.Sprintf("%s.roles[%d]", kp, i), "%q is not a role name: no commas, spaces or control characters", r)
		}
	}
}

func (cl ClientConfig) validateID(p *conf.Problems, kp, audience string) {
	switch id := cl.ID; {
	case id == "":
		p.Addf(kp+".id", "required: the client_id the client sends")
	case len(id) > maxClientIDLen:
		p.Addf(kp+".id", "is %d characters: at most %d", len(id), maxClientIDLen)
	case strings.ContainsFunc(id, func(r rune) bool { return !isIDRune(r) }):
		p.Addf(kp+".id", "%q may only hold letters, digits and -._~", id)
	case strings.Trim(id, "0123456789") == "":
		p.Addf(kp+".id", "%q must not be only digits: a client_credentials token's sub is the client id, and a user id is a number", id)
	case id == audience:
		p.Addf(kp+".id", "%q is tokens.audience: an ID token for this client would carry the access tokens' audience", id)
	}
}

func isIDRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~", r)
}

func (cl ClientConfig) validateSecret(p *conf.Problems, kp string) {
	s := cl.Secret
	switch {
	case cl.Public && s != "":
		p.Addf(kp+".secret", "must be empty for a public client: it cannot keep a secret (RFC 6749 §2.1)")
	case cl.Public:
	case s == "":
		p.Addf(kp+".secret", "required for a confidential client: write ${ENV_VAR}, or a bcrypt hash; or set public: true")
	case isBcryptHash(s):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil {
			p.Addf(kp+".secret", "starts like a bcrypt hash but is not one")
		} else if cost < minBcryptCost {
			p.Addf(kp+".secret", "bcrypt cost %d is too cheap: at least %d", cost, minBcryptCost)
		}
	case len(s) < minSecretChars:
		p.Addf(kp+".secret", "is %d characters: at least %d (openssl rand -hex 32), or a bcrypt hash", len(s), minSecretChars)
	case distinctBytes(s) < minSecretSymbols:
		p.Addf(kp+".secret", "uses only %d distinct characters: not a random secret", distinctBytes(s))
	}
}

func isBcryptHash(s string) bool { return strings.HasPrefix(s, "$2") }

func distinctBytes(s string) int {
	var seen [256]bool
	n := 0
	for i := 0; i < len(s); i++ {
		if !seen[s[i]] {
			seen[s[i]] = true
			n++
		}
	}
	return n
}

// validateGrants reports the grant problems and returns the set of grants.
func (cl ClientConfig) validateGrants(p *conf.Problems, kp string) map[string]bool {
	set := make(map[string]bool, len(cl.Grants))
	for i, g := range cl.Grants {
		gp := fmt.Sprintf("%s.grants[%d]", kp, i)
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword:
		default:
			p.Addf(gp, "%q must be one of authorization_code, refresh_token, client_credentials, password (implicit is not supported: RFC 9700 §2.1.2)", g)
			continue
		}
		if set[g] {
			p.Addf(gp, "%q is listed twice", g)
		}
		set[g] = true
		if cl.Public && (g == GrantClientCredentials || g == GrantPassword) {
			p.Addf(gp, "%s needs a confidential client: a public client cannot authenticate", g)
		}
	}
	if len(cl.Grants) == 0 {
		p.Addf(kp+".grants", "must list at least one grant")
	}
	if set[GrantRefreshToken] && !set[GrantAuthorizationCode] && !set[GrantPassword] {
		p.Addf(kp+".grants", "refresh_token renews what authorization_code or password issued; list one of them too")
	}
	return set
}

// redirectURIProblem says why raw cannot be registered, or "".
func redirectURIProblem(raw string, public bool) string {
	if len(raw) > maxRedirectLen {
		return fmt.Sprintf("is %d characters: at most %d", len(raw), maxRedirectLen)
	}
	if strings.ContainsAny(raw, "*") {
		// Exact matching only; a pattern is how open redirects begin.
		return "must not hold a wildcard: redirect URIs are matched exactly"
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Sprintf("%q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment (RFC 6749 §3.1.2)"
	}
	if u.User != nil {
		return "must not carry user info"
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return "has no host"
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return "http is allowed only to a loopback address (127.0.0.1, [::1], localhost); use https"
		}
	default:
		// RFC 8252 §7.1: a private-use scheme is a reverse domain name.
		if !public || !strings.Contains(u.Scheme, ".") {
			return fmt.Sprintf("scheme %q: use https (or, for a public native app, a private-use scheme like com.example.app)", u.Scheme)
		}
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isScopeToken reports whether s is a scope-token: 1*NQCHAR (RFC 6749 §3.3).
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}
