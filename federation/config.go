package federation

import "strings"

// Config is the identity_providers section of config.yaml. gateway.Config
// inlines it (a field Federation federation.Config tagged yaml:",inline"),
// so the key sits at the top level of the file.
type Config struct {
	IdentityProviders []ProviderConfig `yaml:"identity_providers"`
}

// Provider types.
const (
	TypeOIDC   = "oidc"   // OpenID Connect: discovery from issuer, or explicit endpoints
	TypeGitHub = "github" // GitHub (or GitHub Enterprise Server): OAuth2 plus the REST API
)

// ProviderConfig is one identity provider. A zero field means "the default
// given on the field"; SetDefaults fills them once at load time, so nothing
// at sign-in re-derives configuration.
type ProviderConfig struct {
	// Name identifies the provider in URLs ({prefix}/callback/{name}), in
	// the login page and in linked identities: lower-case letters, digits,
	// '-' and '_', at most 32. Required, unique. Renaming a provider
	// changes its redirect URI at the provider, but not the identities
	// linked through it: those are keyed by issuer and subject.
	Name string `yaml:"name"`
	// Type is oidc or github. Required.
	Type string `yaml:"type"`
	// DisplayName is the login button's text ("Sign in with <DisplayName>").
	// Default: "GitHub" for type github, else Name.
	DisplayName string `yaml:"display_name"`

	// Issuer is the OIDC issuer URL, exactly as the provider writes it in
	// "iss" (discovery is read from Issuer + /.well-known/openid-configuration
	// unless the endpoints below are given). For github it names the
	// identity namespace: default https://github.com, or your GitHub
	// Enterprise Server's URL.
	Issuer string `yaml:"issuer"`

	// Explicit endpoints, for an OIDC provider without discovery: then
	// authorization_url, token_url and jwks_url are all required, and
	// userinfo_url and end_session_url are optional. Given any of them,
	// discovery is not used at all. For github, authorization_url and
	// token_url default to Issuer + /login/oauth/authorize and
	// /login/oauth/access_token.
	AuthorizationURL string `yaml:"authorization_url"`
	TokenURL         string `yaml:"token_url"`
	UserinfoURL      string `yaml:"userinfo_url"`
	JWKSURL          string `yaml:"jwks_url"`
	EndSessionURL    string `yaml:"end_session_url"`
	// SigningAlgs are the ID token algorithms accepted from a provider
	// configured with explicit endpoints. Default [RS256], the algorithm
	// every OIDC provider must support. With discovery they come from the
	// provider's id_token_signing_alg_values_supported instead. Only
	// asymmetric algorithms: never none, never HS256 (a token MACed with the
	// client secret could be minted by anyone holding that secret).
	SigningAlgs []string `yaml:"signing_algs"`
	// APIURL is the GitHub REST API base (github only). Default
	// https://api.github.com for github.com, else Issuer + /api/v3.
	APIURL string `yaml:"api_url"`

	// ClientID and ClientSecret are the credentials registered at the
	// provider. Write the secret as ${VAR}: the loader expands it from the
	// environment or .env. Both required.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// Scopes requested. Default for oidc: [openid, email, profile] (add
	// offline_access where the provider needs it for a refresh token:
	// Entra ID, Okta, ZITADEL). Default for github: [read:user, user:email],
	// plus read:org when allowed_orgs, allowed_teams or roles_claim needs
	// organisations.
	Scopes []string `yaml:"scopes"`
	// AuthParams are extra authorization request parameters, e.g. Google's
	// {access_type: offline, prompt: consent} for a refresh token, or
	// {domain_hint: example.com}. The protocol's own parameters (state,
	// nonce, code_challenge, redirect_uri, ...) cannot be set here.
	AuthParams map[string]string `yaml:"auth_params"`

	// RolesClaim is where the user's groups or roles are in the ID token (or
	// userinfo): a claim name ("groups", "roles") or a dotted path into
	// nested objects ("realm_access.roles",
	// "resource_access.my-client.roles"). A claim whose own name contains
	// dots ("https://example.com/roles") is found as written first. The
	// value may be an array of strings or a single string. For github it is
	// "orgs" (organisation logins) or "teams" ("org/team-slug").
	// Empty: the provider does not manage roles; the user keeps the roles
	// authgate gives them locally.
	RolesClaim string `yaml:"roles_claim"`
	// RoleMap maps a value of RolesClaim to the authgate roles it grants:
	//   role_map: {"/platform": [admin], "developers": [dev, deploy]}
	// With a role_map, only mapped values grant roles; every other value
	// is dropped, so a provider group that happens to be called "admin"
	// grants nothing by accident. Without one, each value is taken as a
	// role as it is, when it is a valid authgate role name (1 to 64 of
	// A-Z a-z 0-9 . _ : -); other values are dropped. For github the values
	// are compared without case, as GitHub compares logins.
	RoleMap map[string][]string `yaml:"role_map"`

	// AllowedDomains, when set, admit only users whose email address the
	// provider marks verified and whose domain (after the @, without case)
	// is one of these, exactly: example.com does not admit
	// mail.example.com.
	AllowedDomains []string `yaml:"allowed_domains"`
	// AllowedOrgs and AllowedTeams (github only), when set, admit only
	// members of one of these organisations, or of one of these teams
	// ("org/team-slug"); a user passes with either. Needs read:org, which
	// the default scopes then include.
	AllowedOrgs  []string `yaml:"allowed_orgs"`
	AllowedTeams []string `yaml:"allowed_teams"`
	// RequiredClaims admit only users whose claim at each path (as in
	// RolesClaim) equals the value, or, for an array, contains it:
	//   required_claims: {hd: example.com, email_verified: "true"}
	// Every restriction that is set must pass.
	RequiredClaims map[string]string `yaml:"required_claims"`

	// AllowSignup lets a first sign-in create an authgate user. Default
	// true: the company's provider is the user directory, which is why
	// federation is configured at all, and every other gateway of this kind
	// behaves so. Validation refuses signup through a provider anyone can
	// have an account with (github, Google, Microsoft's consumer tenant)
	// unless a restriction above narrows it. false: only users already
	// linked (or linked by trusted_email) can sign in.
	AllowSignup *bool `yaml:"allow_signup"`
	// TrustedEmail links a first sign-in to an existing local user with the
	// same email address — only when the provider marks the address
	// verified. Default false: a provider that lets users type any address
	// would otherwise hand over local accounts.
	TrustedEmail bool `yaml:"trusted_email"`
	// EndSession makes authgate's logout also end the session at the
	// provider (OpenID Connect RP-Initiated Logout 1.0), where the provider
	// advertises an end_session_endpoint. Default false.
	EndSession bool `yaml:"end_session"`
	// PassToken keeps the provider's access token in the Result so that a
	// route that opts in can forward it. Default false: no token of the
	// provider's ever reaches a backend.
	PassToken bool `yaml:"pass_token"`
}

// Defaults for github.com.
const (
	githubIssuer = "https://github.com"
	githubAPI    = "https://api.github.com"
)

// SetDefaults fills what the file leaves out. The loader calls it once,
// before Validate; nothing else re-applies a fallback.
func (c *Config) SetDefaults() {
	for i := range c.IdentityProviders {
		c.IdentityProviders[i].SetDefaults()
	}
}

// SetDefaults fills p's zero fields; see each field for its default.
func (p *ProviderConfig) SetDefaults() {
	if p.AllowSignup == nil {
		yes := true
		p.AllowSignup = &yes
	}
	switch p.Type {
	case TypeGitHub:
		if p.DisplayName == "" {
			p.DisplayName = "GitHub"
		}
		if p.Issuer == "" {
			p.Issuer = githubIssuer
		}
		base := strings.TrimSuffix(p.Issuer, "/")
		if p.AuthorizationURL == "" {
			p.AuthorizationURL = base + "/login/oauth/authorize"
		}
		if p.TokenURL == "" {
			p.TokenURL = base + "/login/oauth/access_token"
		}
		if p.APIURL == "" {
			p.APIURL = githubAPI
			if base != githubIssuer {
				p.APIURL = base + "/api/v3"
			}
		}
		if p.Scopes == nil {
			p.Scopes = []string{"read:user", "user:email"}
			if p.needsOrgs() || p.needsTeams() {
				p.Scopes = append(p.Scopes, "read:org")
			}
		}
	case TypeOIDC:
		if p.Scopes == nil {
			p.Scopes = []string{"openid", "email", "profile"}
		}
		if p.explicitEndpoints() && p.SigningAlgs == nil {
			p.SigningAlgs = []string{"RS256"}
		}
	}
	if p.DisplayName == "" {
		p.DisplayName = p.Name
	}
}

// explicitEndpoints reports whether any endpoint is configured, which turns
// discovery off for an OIDC provider.
func (p *ProviderConfig) explicitEndpoints() bool {
	return p.AuthorizationURL != "" || p.TokenURL != "" || p.UserinfoURL != "" ||
		p.JWKSURL != "" || p.EndSessionURL != ""
}

// needsOrgs and needsTeams report whether a github sign-in must list the
// user's organisations or teams.
func (p *ProviderConfig) needsOrgs() bool {
	return len(p.AllowedOrgs) > 0 || p.RolesClaim == claimOrgs || hasKey(p.RequiredClaims, claimOrgs)
}

func (p *ProviderConfig) needsTeams() bool {
	return len(p.AllowedTeams) > 0 || p.RolesClaim == claimTeams || hasKey(p.RequiredClaims, claimTeams)
}

// restricted reports whether anything narrows who may sign in.
func (p *ProviderConfig) restricted() bool {
	return len(p.AllowedDomains) > 0 || len(p.AllowedOrgs) > 0 || len(p.AllowedTeams) > 0 || len(p.RequiredClaims) > 0
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
