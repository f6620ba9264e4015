package provider

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

var validTokens = TokenSettings{Issuer: "https://id.example.test", Audience: "authgate", Algorithm: "ES256"}

// validClients are one client of each kind, defaults applied.
func validClients() []ClientConfig {
	c := Config{Clients: []ClientConfig{
		{ID: "grafana", Secret: strings.Repeat("0123456789abcdef", 2), RedirectURIs: []string{"https://grafana.example.test/login/generic_oauth"}},
		{ID: "cli", Public: true, RedirectURIs: []string{"http://127.0.0.1:8250/callback", "com.example.cli:/callback"}},
		{ID: "reports-job", Secret: strings.Repeat("fedcba9876543210", 2), Grants: []string{"client_credentials"}, Roles: []string{"reports"}, Scopes: []string{"reports.read"}},
	}}
	c.SetDefaults()
	return c.Clients
}

func TestConfigValidate(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("a secret of any length"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		mutate   func(c *Config, tok *TokenSettings)
		wantPath string // "" = valid
	}{
		{name: "ok-valid", mutate: func(c *Config, tok *TokenSettings) {}},
		{name: "ok-disabled-hs256", mutate: func(c *Config, tok *TokenSettings) { c.Enabled, tok.Algorithm, tok.Issuer = false, "HS256", "authgate" }},
		{name: "ok-issuer-with-path", mutate: func(c *Config, tok *TokenSettings) { tok.Issuer = "https://example.test/id" }},
		{name: "ok-no-clients", mutate: func(c *Config, tok *TokenSettings) { c.Clients = nil }},
		{name: "ok-password-grant", mutate: func(c *Config, tok *TokenSettings) {
			c.Clients[0].Grants = []string{"password", "refresh_token"}
			c.Clients[0].RedirectURIs = nil
		}},
		{name: "ok-bcrypt-secret-cost-10", mutate: func(c *Config, tok *TokenSettings) {
			h, _ := thirdHash()
			c.Clients[0].Secret = string(h)
		}},
		{name: "fail-hs256", mutate: func(c *Config, tok *TokenSettings) { tok.Algorithm = "HS256" }, wantPath: "oauth2.enabled"},
		{name: "fail-issuer-not-url", mutate: func(c *Config, tok *TokenSettings) { tok.Issuer = "authgate" }, wantPath: "oauth2.enabled"},
		{name: "fail-issuer-http", mutate: func(c *Config, tok *TokenSettings) { tok.Issuer = "http://id.example.test" }, wantPath: "oauth2.enabled"},
		{name: "fail-issuer-slash", mutate: func(c *Config, tok *TokenSettings) { tok.Issuer = "https://id.example.test/" }, wantPath: "oauth2.enabled"},
		{name: "fail-issuer-query", mutate: func(c *Config, tok *TokenSettings) { tok.Issuer = "https://id.example.test?x=1" }, wantPath: "oauth2.enabled"},
		{name: "fail-id-empty", mutate: func(c *Config, tok *TokenSettings) { c.Clients[1].ID = "" }, wantPath: "oauth2.clients[1].id"},
		{name: "fail-id-digits", mutate: func(c *Config, tok *TokenSettings) { c.Clients[2].ID = "1234" }, wantPath: "oauth2.clients[2].id"},
		{name: "fail-id-chars", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].ID = "graf ana" }, wantPath: "oauth2.clients[0].id"},
		{name: "fail-id-audience", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].ID = "authgate" }, wantPath: "oauth2.clients[0].id"},
		{name: "fail-id-duplicate", mutate: func(c *Config, tok *TokenSettings) { c.Clients[2].ID = "grafana" }, wantPath: "oauth2.clients[2].id"},
		{name: "fail-secret-missing", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].Secret = "" }, wantPath: "oauth2.clients[0].secret"},
		{name: "fail-secret-short", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].Secret = "hunter2hunter2" }, wantPath: "oauth2.clients[0].secret"},
		{name: "fail-secret-repetitive", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].Secret = strings.Repeat("ab", 20) }, wantPath: "oauth2.clients[0].secret"},
		{name: "fail-bcrypt-cheap", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].Secret = string(hash) }, wantPath: "oauth2.clients[0].secret"},
		{name: "fail-bcrypt-broken", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].Secret = "$2b$12$notahash" }, wantPath: "oauth2.clients[0].secret"},
		{name: "fail-public-with-secret", mutate: func(c *Config, tok *TokenSettings) { c.Clients[1].Secret = strings.Repeat("0123456789abcdef", 2) }, wantPath: "oauth2.clients[1].secret"},
		{name: "fail-public-client-credentials", mutate: func(c *Config, tok *TokenSettings) {
			c.Clients[1].Grants = append(c.Clients[1].Grants, "client_credentials")
		}, wantPath: "oauth2.clients[1].grants[2]"},
		{name: "fail-public-password", mutate: func(c *Config, tok *TokenSettings) {
			c.Clients[1].Grants = []string{"password"}
			c.Clients[1].RedirectURIs = nil
		}, wantPath: "oauth2.clients[1].grants[0]"},
		{name: "fail-grant-implicit", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].Grants = []string{"authorization_code", "implicit"} }, wantPath: "oauth2.clients[0].grants[1]"},
		{name: "fail-grant-twice", mutate: func(c *Config, tok *TokenSettings) {
			c.Clients[0].Grants = []string{"authorization_code", "authorization_code"}
		}, wantPath: "oauth2.clients[0].grants[1]"},
		{name: "fail-grants-empty", mutate: func(c *Config, tok *TokenSettings) { c.Clients[2].Grants = []string{}; c.Clients[2].Roles = nil }, wantPath: "oauth2.clients[2].grants"},
		{name: "fail-refresh-alone", mutate: func(c *Config, tok *TokenSettings) {
			c.Clients[0].Grants = []string{"refresh_token"}
			c.Clients[0].RedirectURIs = nil
		}, wantPath: "oauth2.clients[0].grants"},
		{name: "fail-no-redirect", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].RedirectURIs = nil }, wantPath: "oauth2.clients[0].redirect_uris"},
		{name: "fail-redirect-unused", mutate: func(c *Config, tok *TokenSettings) { c.Clients[2].RedirectURIs = []string{"https://x.example.test/cb"} }, wantPath: "oauth2.clients[2].redirect_uris"},
		{name: "fail-redirect-wildcard", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].RedirectURIs = []string{"https://*.example.test/cb"} }, wantPath: "oauth2.clients[0].redirect_uris[0]"},
		{name: "fail-redirect-fragment", mutate: func(c *Config, tok *TokenSettings) {
			c.Clients[0].RedirectURIs = []string{"https://a.example.test/cb#x"}
		}, wantPath: "oauth2.clients[0].redirect_uris[0]"},
		{name: "fail-redirect-http", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].RedirectURIs = []string{"http://a.example.test/cb"} }, wantPath: "oauth2.clients[0].redirect_uris[0]"},
		{name: "fail-redirect-relative", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].RedirectURIs = []string{"/callback"} }, wantPath: "oauth2.clients[0].redirect_uris[0]"},
		{name: "fail-redirect-userinfo", mutate: func(c *Config, tok *TokenSettings) {
			c.Clients[0].RedirectURIs = []string{"https://u:p@a.example.test/cb"}
		}, wantPath: "oauth2.clients[0].redirect_uris[0]"},
		{name: "fail-redirect-custom-confidential", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].RedirectURIs = []string{"com.example.app:/cb"} }, wantPath: "oauth2.clients[0].redirect_uris[0]"},
		{name: "fail-redirect-javascript", mutate: func(c *Config, tok *TokenSettings) { c.Clients[1].RedirectURIs = []string{"javascript:alert(1)"} }, wantPath: "oauth2.clients[1].redirect_uris[0]"},
		{name: "fail-redirect-twice", mutate: func(c *Config, tok *TokenSettings) {
			c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, c.Clients[0].RedirectURIs[0])
		}, wantPath: "oauth2.clients[0].redirect_uris[1]"},
		{name: "fail-scope-space", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].Scopes = []string{"openid", "a b"} }, wantPath: "oauth2.clients[0].scopes[1]"},
		{name: "fail-scope-twice", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].Scopes = []string{"openid", "openid"} }, wantPath: "oauth2.clients[0].scopes[1]"},
		{name: "fail-roles-without-client-credentials", mutate: func(c *Config, tok *TokenSettings) { c.Clients[0].Roles = []string{"admin"} }, wantPath: "oauth2.clients[0].roles"},
		{name: "fail-role-comma", mutate: func(c *Config, tok *TokenSettings) { c.Clients[2].Roles = []string{"a,b"} }, wantPath: "oauth2.clients[2].roles[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Enabled: true, Clients: validClients()}
			tok := validTokens
			tt.mutate(&c, &tok)
			err := c.Validate(tok)
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantPath+": ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Validate() = %v; want one problem at %s", err, tt.wantPath)
			}
		})
	}
}

// TestValidateReportsEveryProblem: one round of fixes, not one error at a
// time.
func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{Enabled: true, Clients: []ClientConfig{
		{ID: "", Public: true, Grants: []string{"implicit"}, Scopes: []string{"openid"}},
		{ID: "b", Secret: "short", Grants: []string{"authorization_code"}, Scopes: []string{"openid"}},
	}}
	err := c.Validate(TokenSettings{Issuer: "authgate", Algorithm: "HS256"})
	if err == nil {
		t.Fatal("Validate() = nil; want problems")
	}
	for _, path := range []string{"oauth2.enabled", "oauth2.clients[0].id", "oauth2.clients[0].grants[0]", "oauth2.clients[1].secret", "oauth2.clients[1].redirect_uris"} {
		if !strings.Contains(err.Error(), path+": ") {
			t.Errorf("Validate() = %v; want a problem at %s", err, path)
		}
	}
}

// TestValidateNeverEchoesSecrets: problem messages end up in logs and CI
// output.
func TestValidateNeverEchoesSecrets(t *testing.T) {
	c := Config{Enabled: true, Clients: []ClientConfig{
		{ID: "a", Secret: "hunter2", RedirectURIs: []string{"https://a.example.test/cb"}, Grants: []string{"authorization_code"}},
		{ID: "b", Secret: "$2b$12$hunter3", RedirectURIs: []string{"https://b.example.test/cb"}, Grants: []string{"authorization_code"}},
		{ID: "c", Secret: "hunter4", Public: true, RedirectURIs: []string{"https://c.example.test/cb"}, Grants: []string{"authorization_code"}},
	}}
	err := c.Validate(validTokens)
	if err == nil {
		t.Fatal("Validate() = nil; want problems")
	}
	for _, s := range []string{"hunter2", "hunter3", "hunter4"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("Validate() = %q repeats %q", err, s)
		}
	}
}

func TestSetDefaults(t *testing.T) {
	c := Config{Clients: []ClientConfig{{ID: "a"}, {ID: "b", Grants: []string{"password"}, Scopes: []string{}}}}
	c.SetDefaults()
	if got := strings.Join(c.Clients[0].Grants, ","); got != "authorization_code,refresh_token" {
		t.Errorf("default grants = %s", got)
	}
	if got := strings.Join(c.Clients[0].Scopes, ","); got != "openid,profile,email,roles" {
		t.Errorf("default scopes = %s", got)
	}
	if len(c.Clients[1].Scopes) != 0 || len(c.Clients[1].Grants) != 1 {
		t.Errorf("SetDefaults replaced set values: %+v", c.Clients[1])
	}
}

// TestConfigYAMLKeys: the section's keys are the ones DESIGN.md fixes,
// and nothing else decodes.
func TestConfigYAMLKeys(t *testing.T) {
	const doc = `
enabled: true
clients:
  - id: grafana
    secret: ${GRAFANA_SECRET}
    redirect_uris: [https://grafana.example.test/login/generic_oauth]
    grants: [authorization_code, refresh_token]
    scopes: [openid, email]
    roles: []
    first_party: true
    public: false
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	cl := c.Clients[0]
	if !c.Enabled || cl.ID != "grafana" || cl.Secret != "${GRAFANA_SECRET}" || len(cl.RedirectURIs) != 1 ||
		len(cl.Grants) != 2 || len(cl.Scopes) != 2 || !cl.FirstParty || cl.Public {
		t.Fatalf("decoded %+v", c)
	}
	dec = yaml.NewDecoder(strings.NewReader("clients:\n  - id: x\n    post_logout_redirect_uris: []\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&Config{}); err == nil {
		t.Fatal("an unknown key decoded; want an error")
	}
}
