package federation

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate/internal/conf"
)

// loadSection decodes an identity_providers section as the loader would
// (KnownFields stands in for its schema walk), applies defaults and
// validates it.
func loadSection(t *testing.T, src string) (*Config, error) {
	t.Helper()
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	c.SetDefaults()
	return &c, c.Validate()
}

// problems lists err's problems as "path: message".
func problems(err error) []string {
	var out []string
	for _, e := range conf.Unjoin(err) {
		var p *conf.Problem
		if errors.As(e, &p) {
			out = append(out, p.Path+": "+p.Msg)
		} else {
			out = append(out, "?: "+e.Error())
		}
	}
	return out
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // "path: message substring", in order
	}{
		{name: "ok-every-key", yaml: `
identity_providers:
  - name: keycloak
    type: oidc
    display_name: Company login
    issuer: https://sso.example.com/realms/corp
    client_id: authgate
    client_secret: s3cret
    scopes: [openid, email, profile, offline_access]
    auth_params: {kc_idp_hint: ldap}
    roles_claim: realm_access.roles
    role_map: {app-admin: [admin], developers: [dev, deploy]}
    allowed_domains: [example.com]
    required_claims: {email_verified: "true"}
    allow_signup: false
    trusted_email: true
    end_session: true
    pass_token: true
  - name: github
    type: github
    client_id: Iv1.x
    client_secret: s3cret
    allowed_orgs: [acme]
    allowed_teams: [acme/platform]
    roles_claim: teams
    role_map: {acme/platform: [admin]}
  - name: legacy
    type: oidc
    issuer: https://legacy.example.com
    authorization_url: https://legacy.example.com/oauth/authorize
    token_url: https://legacy.example.com/oauth/token
    jwks_url: https://legacy.example.com/keys
    userinfo_url: https://legacy.example.com/me
    signing_algs: [ES256]
    client_id: a
    client_secret: b
`},
		{name: "ok-loopback-http-for-tests", yaml: `
identity_providers:
  - {name: dev, type: oidc, issuer: "http://127.0.0.1:5556/dex", client_id: a, client_secret: b}
`},
		{name: "fail-missing-basics", yaml: `
identity_providers:
  - {type: oidc}
  - {name: x}
`, want: []string{
			"identity_providers[0].name: required",
			"identity_providers[0].client_id: required",
			"identity_providers[0].client_secret: required",
			"identity_providers[0].issuer: required for type oidc",
			"identity_providers[1].client_id: required",
			"identity_providers[1].client_secret: required",
			"identity_providers[1].type: required: oidc or github",
		}},
		{name: "fail-bad-names-and-duplicates", yaml: `
identity_providers:
  - {name: Google, type: oidc, issuer: "https://a.example", client_id: a, client_secret: b}
  - {name: corp, type: oidc, issuer: "https://a.example", client_id: a, client_secret: b}
  - {name: corp, type: oidc, issuer: "https://b.example", client_id: a, client_secret: b}
  - {name: "a/b", type: OIDC, client_id: a, client_secret: b}
`, want: []string{
			`identity_providers[0].name: "Google" may only hold lower-case letters`,
			`identity_providers[2].name: "corp" is already the name of identity_providers[1]`,
			`identity_providers[3].name: "a/b" may only hold`,
			`identity_providers[3].type: "OIDC" must be oidc or github`,
		}},
		{name: "fail-urls", yaml: `
identity_providers:
  - {name: a, type: oidc, issuer: "http://sso.example.com", client_id: a, client_secret: b}
  - {name: b, type: oidc, issuer: "https://sso.example.com/?tenant=1", client_id: a, client_secret: b}
  - {name: c, type: oidc, issuer: "https://user:pw@sso.example.com", client_id: a, client_secret: b}
  - {name: d, type: oidc, issuer: "sso.example.com", client_id: a, client_secret: b}
`, want: []string{
			`identity_providers[0].issuer: "http://sso.example.com" must use https`,
			`identity_providers[1].issuer: "https://sso.example.com/?tenant=1" must not have a ?query`,
			`identity_providers[2].issuer: must not hold credentials`,
			`identity_providers[3].issuer: "sso.example.com" is not an absolute URL`,
		}},
		{name: "fail-explicit-endpoints-incomplete", yaml: `
identity_providers:
  - name: a
    type: oidc
    issuer: https://a.example
    token_url: https://a.example/token
    signing_algs: [HS256, none, RS256]
    client_id: a
    client_secret: b
`, want: []string{
			"identity_providers[0].authorization_url: required when endpoints are given",
			"identity_providers[0].jwks_url: required when endpoints are given",
			`identity_providers[0].signing_algs[0]: "HS256" is not accepted`,
			`identity_providers[0].signing_algs[1]: "none" is not accepted`,
		}},
		{name: "fail-signing-algs-with-discovery", yaml: `
identity_providers:
  - {name: a, type: oidc, issuer: "https://a.example", signing_algs: [RS256], client_id: a, client_secret: b}
`, want: []string{"identity_providers[0].signing_algs: only with explicit endpoints"}},
		{name: "fail-scopes-and-params", yaml: `
identity_providers:
  - name: a
    type: oidc
    issuer: https://a.example
    client_id: a
    client_secret: b
    scopes: [email, "two words"]
    auth_params: {state: x, Nonce: y, prompt: consent}
`, want: []string{
			"identity_providers[0].scopes: must include openid",
			`identity_providers[0].scopes[1]: "two words" is not a scope`,
			`identity_providers[0].auth_params.Nonce: "Nonce" cannot be set here`,
			`identity_providers[0].auth_params.state: "state" cannot be set here`,
		}},
		{name: "fail-roles", yaml: `
identity_providers:
  - name: a
    type: oidc
    issuer: https://a.example
    client_id: a
    client_secret: b
    role_map: {admins: [], devs: ["has space", ok]}
`, want: []string{
			"identity_providers[0].role_map: needs roles_claim",
			"identity_providers[0].role_map.admins: maps to no role",
			`identity_providers[0].role_map.devs[0]: "has space" is not a role name`,
		}},
		{name: "fail-restrictions", yaml: `
identity_providers:
  - name: a
    type: oidc
    issuer: https://a.example
    client_id: a
    client_secret: b
    roles_claim: ".groups"
    allowed_domains: ["*.example.com", "user@example.com"]
    allowed_orgs: [acme]
    required_claims: {hd: ""}
`, want: []string{
			`identity_providers[0].allowed_orgs: only for type github`,
			`identity_providers[0].roles_claim: ".groups" is not a claim path`,
			`identity_providers[0].allowed_domains[0]: "*.example.com" is not a domain name: domains match exactly`,
			`identity_providers[0].allowed_domains[1]: "user@example.com" is not a domain name`,
			`identity_providers[0].required_claims.hd: the value is empty`,
		}},
		{name: "fail-github-specifics", yaml: `
identity_providers:
  - name: gh
    type: github
    client_id: a
    client_secret: b
    allow_signup: false
    userinfo_url: https://api.github.com/user
    end_session: true
    roles_claim: groups
    allowed_teams: [platform]
    allowed_orgs: [-acme]
`, want: []string{
			"identity_providers[0].userinfo_url: not used by type github",
			"identity_providers[0].end_session: GitHub has no RP-initiated logout",
			`identity_providers[0].roles_claim: "groups": for type github it is orgs`,
			`identity_providers[0].allowed_orgs[0]: "-acme" is not a GitHub organisation login`,
			`identity_providers[0].allowed_teams[0]: "platform" must be written org/team-slug`,
		}},
		{name: "fail-public-provider-open-signup", yaml: `
identity_providers:
  - {name: gh, type: github, client_id: a, client_secret: b}
  - {name: google, type: oidc, issuer: "https://accounts.google.com", client_id: a, client_secret: b}
  - {name: google2, type: oidc, issuer: "https://accounts.google.com", client_id: a, client_secret: b, allow_signup: true}
`, want: []string{
			"identity_providers[0].allow_signup: anyone with a GitHub account could create an authgate user: set allowed_orgs, allowed_teams or allowed_domains",
			"identity_providers[1].allow_signup: anyone with a Google account could create an authgate user: set allowed_domains or required_claims",
			"identity_providers[2].allow_signup: anyone with a Google account",
		}},
		{name: "ok-public-provider-restricted-or-closed", yaml: `
identity_providers:
  - {name: gh, type: github, client_id: a, client_secret: b, allowed_orgs: [acme]}
  - {name: google, type: oidc, issuer: "https://accounts.google.com", client_id: a, client_secret: b, required_claims: {hd: example.com}}
  - {name: gh2, type: github, client_id: a, client_secret: b, allow_signup: false}
`},
		{name: "fail-entra-multi-tenant", yaml: `
identity_providers:
  - {name: entra, type: oidc, issuer: "https://login.microsoftonline.com/common/v2.0", client_id: a, client_secret: b}
`, want: []string{"identity_providers[0].issuer: a multi-tenant Entra ID endpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadSection(t, tt.yaml)
			got := problems(err)
			if len(got) != len(tt.want) {
				t.Fatalf("Validate = %d problems; want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q;\nwant it to start %q", i, got[i], tt.want[i])
				}
			}
			for _, g := range got {
				if strings.Contains(g, "s3cret") {
					t.Errorf("problem repeats the client secret: %s", g)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := loadSection(t, `
identity_providers:
  - {name: corp, type: oidc, issuer: "https://sso.example.com", client_id: a, client_secret: b}
  - {name: gh, type: github, client_id: a, client_secret: b, allowed_orgs: [acme]}
  - {name: ghe, type: github, issuer: "https://ghe.example.com/", client_id: a, client_secret: b, allow_signup: false}
`)
	if err != nil {
		t.Fatalf("Validate = %v", err)
	}
	oidc, gh, ghe := c.IdentityProviders[0], c.IdentityProviders[1], c.IdentityProviders[2]
	if oidc.DisplayName != "corp" || !slices.Equal(oidc.Scopes, []string{"openid", "email", "profile"}) ||
		!*oidc.AllowSignup || oidc.SigningAlgs != nil || oidc.TrustedEmail || oidc.EndSession || oidc.PassToken {
		t.Errorf("oidc defaults = %+v", oidc)
	}
	if gh.DisplayName != "GitHub" || gh.Issuer != "https://github.com" || gh.APIURL != "https://api.github.com" ||
		gh.AuthorizationURL != "https://github.com/login/oauth/authorize" ||
		gh.TokenURL != "https://github.com/login/oauth/access_token" ||
		!slices.Equal(gh.Scopes, []string{"read:user", "user:email", "read:org"}) {
		t.Errorf("github defaults = %+v", gh)
	}
	if ghe.APIURL != "https://ghe.example.com/api/v3" || ghe.TokenURL != "https://ghe.example.com/login/oauth/access_token" ||
		!slices.Equal(ghe.Scopes, []string{"read:user", "user:email"}) || *ghe.AllowSignup {
		t.Errorf("GitHub Enterprise defaults = %+v", ghe)
	}
}

// TestNewRunsValidate: New refuses what Validate refuses, and a bad
// secret, so a handler never meets a config mistake.
func TestNewRunsValidate(t *testing.T) {
	bad := Config{IdentityProviders: []ProviderConfig{{Name: "x", Type: "saml"}}}
	bad.SetDefaults()
	if _, err := New(bad, Options{Secret: testSecret}); err == nil {
		t.Errorf("New accepted type saml")
	}
	if _, err := New(Config{}, Options{Secret: []byte("short")}); err == nil {
		t.Errorf("New accepted a 5-byte secret")
	}
	if _, err := New(Config{}, Options{Secret: testSecret, Prefix: "auth/"}); err == nil {
		t.Errorf("New accepted prefix auth/")
	}
}
