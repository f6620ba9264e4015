package gateway

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeIdentityProviderRecipes loads every YAML block of the README's
// "Sign in with an identity provider" section (the setup recipes for
// Google, GitHub, Keycloak, Entra ID and a generic provider) as a config,
// so that no recipe can drift from what the loader accepts.
func TestReadmeIdentityProviderRecipes(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Sign in with an identity provider\n")
	if !ok {
		t.Fatal(`README has no "## Sign in with an identity provider" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 6 {
		t.Fatalf("found %d YAML blocks in the section; want the example and five recipes", len(blocks))
	}
	for _, env := range []string{"CORP", "GOOGLE", "GITHUB", "KEYCLOAK", "ENTRA", "SSO"} {
		t.Setenv(env+"_CLIENT_SECRET", "secret-from-the-environment")
	}
	for _, b := range blocks {
		name := regexp.MustCompile(`name: (\S+)`).FindStringSubmatch(b[1])
		t.Run(name[1], func(t *testing.T) {
			g := newTestGateway(t)
			file := g.write(b[1] + "routes:\n  - path: /\n    upstream: builtin:echo\n")
			cfg, err := Load(file)
			if err != nil {
				t.Fatalf("README recipe does not load:\n%s\n%v", b[1], err)
			}
			if n := len(cfg.Federation.IdentityProviders); n != 1 {
				t.Errorf("%d identity providers; want 1", n)
			}
		})
	}
}

// TestLoadIdentityProvidersErrors: problems in identity_providers are
// reported with the file, line and key, like every other section's.
func TestLoadIdentityProvidersErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, wantErr string
	}{
		{"fail-no-secret", "identity_providers:\n  - name: corp\n    type: oidc\n    issuer: https://sso.example.com\n    client_id: x\n",
			"@2:5: identity_providers[0].client_secret: required"},
		{"fail-unknown-key", "identity_providers:\n  - name: corp\n    typ: oidc\n",
			`@3:5: identity_providers[0]: unknown key "typ" (did you mean "type"?)`},
		{"fail-google-open-signup", "identity_providers:\n  - name: google\n    type: oidc\n    issuer: https://accounts.google.com\n    client_id: x\n    client_secret: y\n",
			"identity_providers[0].allow_signup: anyone with a Google account"},
		{"fail-pass-token", "identity_providers:\n  - name: corp\n    type: oidc\n    issuer: https://sso.example.com\n    client_id: x\n    client_secret: y\n    pass_token: true\n",
			"@7:5: identity_providers[0].pass_token: is not supported"},
		{"fail-nothing-to-sign-in-with", "auth_api:\n  local_login: false\n",
			"auth_api.local_login: false leaves nothing to sign in with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t)
			head := strings.Count(g.config(""), "\n") // the body starts on the next line
			file := g.write(tc.body + "routes:\n  - path: /\n    upstream: builtin:echo\n")
			_, err := Load(file)
			// "@L:C" is line L of the body: "config.yaml:<head+L>:C".
			want := regexp.MustCompile(`^@(\d+)`).ReplaceAllStringFunc(tc.wantErr, func(m string) string {
				n, _ := strconv.Atoi(m[1:])
				return "config.yaml:" + strconv.Itoa(head+n)
			})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Load = %v; want an error containing %q", err, want)
			}
		})
	}
}
