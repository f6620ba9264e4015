package federation

import (
	"encoding/json"
	"slices"
	"testing"
)

// claimsJSON decodes claims as an ID token's would be: numbers are
// float64, arrays []any, objects map[string]any.
func claimsJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRolesFromClaims(t *testing.T) {
	const keycloak = `{"realm_access": {"roles": ["offline_access", "app-admin", "uma_authorization"]},
		"resource_access": {"my.app": {"roles": ["editor"]}, "other": {"roles": ["x"]}},
		"groups": ["/platform", "developers", "developers", 42, "has space"],
		"role": "ops",
		"https://example.com/roles": ["ns-admin"],
		"nested": {"deep": {"list": ["a"]}}}`
	tests := []struct {
		name    string
		claim   string
		roleMap map[string][]string
		github  bool
		want    []string
	}{
		{name: "ok-keycloak-realm-roles", claim: "realm_access.roles",
			want: []string{"app-admin", "offline_access", "uma_authorization"}},
		{name: "ok-realm-roles-mapped", claim: "realm_access.roles",
			roleMap: map[string][]string{"app-admin": {"admin", "ops"}}, want: []string{"admin", "ops"}},
		{name: "ok-client-id-with-dots", claim: "resource_access.my.app.roles", want: []string{"editor"}},
		{name: "ok-groups-array-invalid-names-dropped", claim: "groups", want: []string{"developers"}},
		{name: "ok-groups-paths-mapped", claim: "groups",
			roleMap: map[string][]string{"/platform": {"admin"}, "developers": {"dev"}, "absent": {"never"}},
			want:    []string{"admin", "dev"}},
		{name: "ok-single-string", claim: "role", want: []string{"ops"}},
		{name: "ok-single-string-mapped", claim: "role", roleMap: map[string][]string{"ops": {"operator"}}, want: []string{"operator"}},
		{name: "ok-namespaced-claim-with-dots", claim: "https://example.com/roles", want: []string{"ns-admin"}},
		{name: "ok-deep-path", claim: "nested.deep.list", want: []string{"a"}},
		{name: "ok-unmapped-dropped", claim: "groups", roleMap: map[string][]string{"nobody": {"x"}}, want: []string{}},
		{name: "ok-map-is-case-sensitive-for-oidc", claim: "role", roleMap: map[string][]string{"OPS": {"x"}}, want: []string{}},
		{name: "ok-map-folds-case-for-github", claim: "role", github: true, roleMap: map[string][]string{"OPS": {"x"}}, want: []string{"x"}},
		{name: "ok-missing-claim-is-no-roles", claim: "nope.nothing", want: []string{}},
		{name: "ok-object-is-no-roles", claim: "realm_access", want: []string{}},
		{name: "ok-not-managing", claim: "", want: nil},
	}
	claims := claimsJSON(t, keycloak)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc := &ProviderConfig{RolesClaim: tt.claim, RoleMap: tt.roleMap, Type: TypeOIDC}
			if tt.github {
				pc.Type = TypeGitHub
			}
			got := newRoleMapper(pc).roles(claims)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("roles(%q) = %#v; want %#v", tt.claim, got, tt.want)
			}
		})
	}
}

func TestClaimHas(t *testing.T) {
	claims := claimsJSON(t, `{"hd": "example.com", "email_verified": true, "level": 3,
		"groups": ["staff", true], "org": {"id": "o-1"}}`)
	tests := []struct {
		name, path, want string
		ok               bool
	}{
		{"ok-string", "hd", "example.com", true},
		{"ok-bool", "email_verified", "true", true},
		{"ok-number", "level", "3", true},
		{"ok-array-element", "groups", "staff", true},
		{"ok-array-bool-element", "groups", "true", true},
		{"ok-nested", "org.id", "o-1", true},
		{"fail-other-value", "hd", "example.org", false},
		{"fail-missing", "tenant", "x", false},
		{"fail-object", "org", "o-1", false},
		{"fail-prefix-is-not-equal", "hd", "example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := claimHas(claims, tt.path, tt.want); got != tt.ok {
				t.Errorf("claimHas(%q, %q) = %v; want %v", tt.path, tt.want, got, tt.ok)
			}
		})
	}
}

func TestEvaluateEmail(t *testing.T) {
	tests := []struct {
		name    string
		claims  string
		domains []string
		want    error
	}{
		{"ok-verified-in-domain", `{"email": "a@Example.COM", "email_verified": true}`, []string{"example.com"}, nil},
		{"ok-verified-as-string", `{"email": "a@example.com", "email_verified": "true"}`, []string{"example.com"}, nil},
		{"ok-no-domains-unverified", `{"email": "a@example.com"}`, nil, nil},
		{"fail-unverified", `{"email": "a@example.com", "email_verified": false}`, []string{"example.com"}, ErrEmailNotVerified},
		{"fail-verified-false-string", `{"email": "a@example.com", "email_verified": "false"}`, []string{"example.com"}, ErrEmailNotVerified},
		{"fail-no-email", `{"email_verified": true}`, []string{"example.com"}, ErrEmailNotVerified},
		{"fail-subdomain", `{"email": "a@mail.example.com", "email_verified": true}`, []string{"example.com"}, ErrNotAllowed},
		{"fail-suffix-trick", `{"email": "a@evilexample.com", "email_verified": true}`, []string{"example.com"}, ErrNotAllowed},
		{"fail-at-in-local-part", `{"email": "a@example.com@evil.test", "email_verified": true}`, []string{"example.com"}, ErrNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &provider{cfg: ProviderConfig{Name: "p"}, domains: tt.domains}
			_, err := p.evaluate(&assertion{subject: "s", claims: claimsJSON(t, tt.claims)})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("evaluate = %v; want nil", err)
				}
				return
			}
			wantErr(t, "evaluate", err, tt.want)
		})
	}
}
