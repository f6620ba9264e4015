package federation

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/conf"
)

// Validate reports every problem in the identity_providers section, with key
// paths from the top of the file ("identity_providers[1].client_id"), as an
// errors.Join of *conf.Problem. It expects SetDefaults to have run. It is
// pure: it changes nothing and makes no network call (discovery happens at
// first use, so a provider that is down does not stop authgate starting).
//
// No message repeats a client secret.
func (c *Config) Validate() error {
	var p conf.Problems
	seen := map[string]int{}
	for i := range c.IdentityProviders {
		pc := &c.IdentityProviders[i]
		path := fmt.Sprintf("identity_providers[%d]", i)
		pc.Validate(&p, path)
		if pc.Name == "" {
			continue
		}
		if j, dup := seen[pc.Name]; dup {
			p.Addf(path+".name", "%q is already the name of identity_providers[%d]: names must be unique", pc.Name, j)
			continue
		}
		seen[pc.Name] = i
	}
	return p.Err()
}

// Validate records every problem in one provider under path (for example
// "identity_providers[0]").
func (pc *ProviderConfig) Validate(p *conf.Problems, path string) {
	at := func(key string) string { return conf.Join(path, key) }

	switch {
	case pc.Name == "":
		p.Addf(at("name"), "required: a short name used in the callback URL, e.g. google")
	case !validName(pc.Name):
		p.Addf(at("name"), "%q may only hold lower-case letters, digits, - and _ (at most 32, starting with a letter or digit): it is part of the callback URL", pc.Name)
	}
	if n := utf8.RuneCountInString(pc.DisplayName); n > 64 || strings.IndexFunc(pc.DisplayName, unicode.IsControl) >= 0 {
		p.Addf(at("display_name"), "must be at most 64 printable characters")
	}
	if pc.ClientID == "" {
		p.Addf(at("client_id"), "required: the client ID registered at the provider")
	}
	if pc.ClientSecret == "" {
		p.Addf(at("client_secret"), "required: the client secret registered at the provider, written as ${VAR}")
	}

	switch pc.Type {
	case TypeOIDC:
		pc.validateOIDC(p, at)
	case TypeGitHub:
		pc.validateGitHub(p, at)
	case "":
		p.Addf(at("type"), "required: oidc or github")
	default:
		p.Addf(at("type"), "%q must be oidc or github", pc.Type)
	}

	for i, s := range pc.Scopes {
		if !validScope(s) {
			p.Addf(fmt.Sprintf("%s[%d]", at("scopes"), i), "%q is not a scope: printable ASCII without spaces or quotes (RFC 6749 §3.3)", s)
		}
	}
	for _, k := range sortedKeys(pc.AuthParams) {
		if k == "" || slices.Contains(reservedAuthParams, strings.ToLower(k)) {
			p.Addf(at("auth_params."+k), "%q cannot be set here: authgate sends it itself", k)
		}
	}
	pc.validateRoles(p, at)
	pc.validateRestrictions(p, at)
	pc.validateSignup(p, at)
}

// reservedAuthParams are the authorization request parameters the flow
// itself sets; letting config override one could turn PKCE, state or nonce
// off.
var reservedAuthParams = []string{
	"response_type", "response_mode", "client_id", "client_secret", "redirect_uri",
	"scope", "state", "nonce", "code_challenge", "code_challenge_method",
	"request", "request_uri",
}

func (pc *ProviderConfig) validateOIDC(p *conf.Problems, at func(string) string) {
	if pc.Issuer == "" {
		p.Addf(at("issuer"), "required for type oidc: the provider's issuer URL, exactly as it writes \"iss\"")
	} else if err := endpointProblem(pc.Issuer, true); err != "" {
		p.Addf(at("issuer"), "%s", err)
	} else if msg, ok := multiTenantIssuers[strings.TrimSuffix(pc.Issuer, "/")]; ok {
		p.Addf(at("issuer"), "%s", msg)
	}
	if pc.explicitEndpoints() {
		for _, e := range []struct {
			key, val string
			required bool
		}{
			{"authorization_url", pc.AuthorizationURL, true},
			{"token_url", pc.TokenURL, true},
			{"jwks_url", pc.JWKSURL, true},
			{"userinfo_url", pc.UserinfoURL, false},
			{"end_session_url", pc.EndSessionURL, false},
		} {
			switch {
			case e.val == "" && e.required:
				p.Addf(at(e.key), "required when endpoints are given instead of discovery (authorization_url, token_url and jwks_url)")
			case e.val != "":
				if err := endpointProblem(e.val, false); err != "" {
					p.Addf(at(e.key), "%s", err)
				}
			}
		}
		for i, a := range pc.SigningAlgs {
			if !asymmetricAlgs[a] {
				p.Addf(fmt.Sprintf("%s[%d]", at("signing_algs"), i), "%q is not accepted: one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (never none or HS256)", a)
			}
		}
		if pc.SigningAlgs != nil && len(pc.SigningAlgs) == 0 {
			p.Addf(at("signing_algs"), "must not be empty: leave it out for [RS256]")
		}
	} else if pc.SigningAlgs != nil {
		p.Addf(at("signing_algs"), "only with explicit endpoints: with discovery the provider advertises its algorithms")
	}
	if !slices.Contains(pc.Scopes, "openid") {
		p.Addf(at("scopes"), "must include openid for type oidc")
	}
	if pc.APIURL != "" {
		p.Addf(at("api_url"), "only for type github")
	}
	if len(pc.AllowedOrgs) > 0 {
		p.Addf(at("allowed_orgs"), "only for type github: use required_claims or roles_claim with an OIDC provider")
	}
	if len(pc.AllowedTeams) > 0 {
		p.Addf(at("allowed_teams"), "only for type github: use required_claims or roles_claim with an OIDC provider")
	}
}

func (pc *ProviderConfig) validateGitHub(p *conf.Problems, at func(string) string) {
	for _, e := range []struct{ key, val string }{
		{"issuer", pc.Issuer}, {"authorization_url", pc.AuthorizationURL},
		{"token_url", pc.TokenURL}, {"api_url", pc.APIURL},
	} {
		if err := endpointProblem(e.val, e.key == "issuer"); err != "" {
			p.Addf(at(e.key), "%s", err)
		}
	}
	for _, e := range []struct{ key, val string }{
		{"userinfo_url", pc.UserinfoURL}, {"jwks_url", pc.JWKSURL}, {"end_session_url", pc.EndSessionURL},
	} {
		if e.val != "" {
			p.Addf(at(e.key), "not used by type github (it is OAuth2 without OpenID Connect): remove it")
		}
	}
	if pc.SigningAlgs != nil {
		p.Addf(at("signing_algs"), "not used by type github: GitHub issues no ID token")
	}
	if pc.EndSession {
		p.Addf(at("end_session"), "GitHub has no RP-initiated logout: remove it")
	}
	if pc.RolesClaim != "" && pc.RolesClaim != claimOrgs && pc.RolesClaim != claimTeams {
		p.Addf(at("roles_claim"), "%q: for type github it is orgs (organisation logins) or teams (org/team-slug)", pc.RolesClaim)
	}
	for i, o := range pc.AllowedOrgs {
		if !validGitHubLogin(o) {
			p.Addf(fmt.Sprintf("%s[%d]", at("allowed_orgs"), i), "%q is not a GitHub organisation login", o)
		}
	}
	for i, t := range pc.AllowedTeams {
		org, slug, ok := strings.Cut(t, "/")
		if !ok || !validGitHubLogin(org) || slug == "" || strings.ContainsAny(slug, "/ ") {
			p.Addf(fmt.Sprintf("%s[%d]", at("allowed_teams"), i), "%q must be written org/team-slug", t)
		}
	}
}

func (pc *ProviderConfig) validateRoles(p *conf.Problems, at func(string) string) {
	if pc.RolesClaim != "" && !validClaimPath(pc.RolesClaim) {
		p.Addf(at("roles_claim"), "%q is not a claim path: a name, or names joined by dots (realm_access.roles)", pc.RolesClaim)
	}
	if len(pc.RoleMap) > 0 && pc.RolesClaim == "" {
		p.Addf(at("role_map"), "needs roles_claim: the claim whose values it maps")
	}
	for _, k := range sortedKeys(pc.RoleMap) {
		kp := at("role_map." + k)
		if k == "" {
			p.Addf(at("role_map"), "a key is empty: write the provider's value to map")
		}
		roles := pc.RoleMap[k]
		if len(roles) == 0 {
			p.Addf(kp, "maps to no role: write [role, ...], or remove the key")
		}
		for i, r := range roles {
			if !ValidRole(r) {
				p.Addf(fmt.Sprintf("%s[%d]", kp, i), "%q is not a role name: 1 to 64 of A-Z a-z 0-9 . _ : -", r)
			}
		}
	}
}

func (pc *ProviderConfig) validateRestrictions(p *conf.Problems, at func(string) string) {
	for i, d := range pc.AllowedDomains {
		if !validDomain(d) {
			hint := ""
			if strings.HasPrefix(d, "*.") {
				hint = ": domains match exactly; list each subdomain"
			}
			p.Addf(fmt.Sprintf("%s[%d]", at("allowed_domains"), i), "%q is not a domain name%s", d, hint)
		}
	}
	for _, k := range sortedKeys(pc.RequiredClaims) {
		kp := at("required_claims." + k)
		if !validClaimPath(k) {
			p.Addf(kp, "%q is not a claim path: a name, or names joined by dots", k)
		}
		if pc.RequiredClaims[k] == "" {
			p.Addf(kp, "the value is empty: write the value the claim must have")
		}
	}
}

// publicIssuers are providers anyone can get an account with. Signup through
// one of them without a restriction would let the whole internet in.
var publicIssuers = map[string]string{
	githubIssuer:                  "GitHub",
	"https://accounts.google.com": "Google",
	"https://gitlab.com":          "GitLab.com",
	"https://appleid.apple.com":   "Apple",
	"https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0": "Microsoft's consumer accounts",
}

// multiTenantIssuers are Entra ID endpoints whose ID tokens carry each
// tenant's own issuer, so they cannot be verified against one issuer (and
// would admit every Microsoft tenant).
var multiTenantIssuers = map[string]string{
	"https://login.microsoftonline.com/common/v2.0":        entraTenantHint,
	"https://login.microsoftonline.com/organizations/v2.0": entraTenantHint,
	"https://login.microsoftonline.com/consumers/v2.0":     entraTenantHint,
}

const entraTenantHint = "a multi-tenant Entra ID endpoint: ID tokens carry each tenant's own issuer; write your tenant's, https://login.microsoftonline.com/<tenant-id>/v2.0"

func (pc *ProviderConfig) validateSignup(p *conf.Problems, at func(string) string) {
	if pc.AllowSignup == nil || !*pc.AllowSignup || pc.restricted() {
		return
	}
	who, public := publicIssuers[strings.TrimSuffix(pc.Issuer, "/")]
	if !public {
		return
	}
	narrow := "allowed_domains or required_claims"
	if pc.Type == TypeGitHub {
		narrow = "allowed_orgs, allowed_teams or allowed_domains"
	}
	p.Addf(at("allow_signup"), "anyone with a %s account could create an authgate user: set %s, or allow_signup: false to admit only users already linked", who, narrow)
}

// endpointProblem checks an endpoint or issuer URL: https, or http to a
// loopback host (a test provider); no credentials, no fragment, and for an
// issuer no query (OIDC Discovery 1.0 §3). "" when it is fine.
func endpointProblem(raw string, issuer bool) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("%q is not an absolute URL: write https://host/path", raw)
	case u.User != nil:
		return "must not hold credentials: put the client secret in client_secret"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Sprintf("%q must not have a #fragment", raw)
	case issuer && u.RawQuery != "":
		return fmt.Sprintf("%q must not have a ?query: an issuer is a plain https URL", raw)
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return ""
		}
		return fmt.Sprintf("%q must use https: codes and tokens would cross the network in clear", raw)
	}
	return fmt.Sprintf("%q must be an https URL", raw)
}

// asymmetricAlgs are the ID token algorithms authgate accepts: go-oidc's
// own list. HS256 is left out on purpose (its key is the client secret).
var asymmetricAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// ValidRole reports whether r is an authgate role name: 1 to 64 of ASCII
// letters, digits and . _ : - (the rule authn applies to roles it stores;
// the identity package will own it after the split of issue 11).
func ValidRole(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func validName(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '-' || s[0] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validScope is RFC 6749 §3.3's scope-token: %x21 / %x23-5B / %x5D-7E.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func validClaimPath(s string) bool {
	return s != "" && strings.TrimSpace(s) == s && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".")
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20 // ASCII lower case
			if !(c >= 'a' && c <= 'z' || label[i] >= '0' && label[i] <= '9' || label[i] == '-') {
				return false
			}
		}
	}
	return true
}

// validGitHubLogin: GitHub user and organisation names are 1 to 39
// alphanumerics or single hyphens, not at either end.
func validGitHubLogin(s string) bool {
	if s == "" || len(s) > 39 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
