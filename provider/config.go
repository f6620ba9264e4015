package provider

import "slices"

// The grant types a client may be allowed (RFC 6749 §4, §6).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
)

// The scopes authgate gives a meaning to. A client may be allowed others
// (for its resource servers); they are carried but add no claims.
const (
	ScopeOpenID  = "openid"  // an ID token, and the userinfo endpoint
	ScopeProfile = "profile" // preferred_username
	ScopeEmail   = "email"   // email, email_verified
	ScopeRoles   = "roles"   // roles
)

var (
	defaultGrants = []string{GrantAuthorizationCode, GrantRefreshToken}
	defaultScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeRoles}
)

// Config is the `oauth2` section of config.yaml. Its zero value is a
// disabled provider with no clients.
type Config struct {
	// Enabled turns the provider endpoints on. It needs an asymmetric
	// tokens.algorithm (ID tokens are verified by clients with the public
	// key) and an https tokens.issuer.
	Enabled bool `yaml:"enabled"`
	// Clients are the registered clients. There is no dynamic
	// registration: a client exists because it is listed here (or, later,
	// registered through the CLI).
	Clients []ClientConfig `yaml:"clients"`
}

// ClientConfig is one registered client.
type ClientConfig struct {
	// ID is the client_id: letters, digits and -._~, not only digits (a
	// client_credentials token's sub is the client id, and user ids are
	// numbers).
	ID string `yaml:"id"`
	// Secret authenticates a confidential client: the secret itself
	// (write ${ENV_VAR} so it stays out of the file; at least 32
	// characters) or its bcrypt hash ("$2a$…", "$2b$…", cost 10 or more).
	// Compared in constant time. Public clients have none.
	Secret string `yaml:"secret"`
	// RedirectURIs are compared with the request's redirect_uri exactly,
	// byte for byte (RFC 9700 §4.1.3). https, or http to a loopback
	// address; a public native app may use a private-use scheme
	// ("com.example.app:/callback", RFC 8252 §7.1).
	RedirectURIs []string `yaml:"redirect_uris"`
	// Grants the client may use. Default: authorization_code and
	// refresh_token. client_credentials and password need a confidential
	// client; password is never on unless listed.
	Grants []string `yaml:"grants"`
	// Scopes the client may request. Default: openid, profile, email,
	// roles. Requested scopes outside this list are dropped from the grant
	// (RFC 6749 §3.3), and the token response says which were granted.
	Scopes []string `yaml:"scopes"`
	// Roles are those of the client's own client_credentials tokens (a
	// service account), checked by route roles like a user's.
	Roles []string `yaml:"roles"`
	// FirstParty skips the consent screen: the client is part of the same
	// deployment, and the user signing in is already agreeing to it.
	FirstParty bool `yaml:"first_party"`
	// Public marks a client that cannot keep a secret (a single-page or
	// native app): no secret, PKCE S256 required, no client_credentials or
	// password grant.
	Public bool `yaml:"public"`
}

// SetDefaults fills every unset field with its default. The loader calls
// it once, before Validate; nothing re-applies defaults later.
func (c *Config) SetDefaults() {
	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.Grants == nil {
			cl.Grants = slices.Clone(defaultGrants)
		}
		if cl.Scopes == nil {
			cl.Scopes = slices.Clone(defaultScopes)
		}
	}
}

// TokenSettings are the parts of the `tokens` section the provider's
// validation depends on. The loader passes them in, so that this package
// does not import the one that owns the section.
type TokenSettings struct {
	Issuer    string // tokens.issuer: the provider's issuer identifier
	Audience  string // tokens.audience: no client may be called the same
	Algorithm string // tokens.algorithm: ID tokens need RS256, ES256 or EdDSA
}
