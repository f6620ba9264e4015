package gateway

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/provider"
	"github.com/authgate/authgate/tokens"
)

// TestOAuth2ResourceMetadata walks what an OAuth-aware client (an MCP
// client) does with a route that sets oauth_resource (RFC 9728): it meets
// the route's 401, follows its resource_metadata to the document, checks
// the resource, finds the authorization server's metadata (RFC 8414),
// gets a client_credentials token there and reaches the route with it.
// The document is public even under a route that requires a token.
func TestOAuth2ResourceMetadata(t *testing.T) {
	b := newBackend(t, "mcp")
	catchAll := "  - {name: app, path: /, auth: required, upstream: \"builtin:echo\"}\n"
	o := oStart(t, oClients, catchAll+"  - {name: mcp, path: /mcp, upstream: "+b.URL+"}\n", "")
	// The first start has no provider, so the key comes in now that the
	// port, and with it the route's URL, is known.
	resource := o.issuer + "/mcp"
	metaURL := o.issuer + "/.well-known/oauth-protected-resource/mcp"
	o.routes = catchAll + "  - {name: mcp, path: /mcp, oauth_resource: \"" + resource + "\", upstream: " + b.URL + "}\n"
	o.restart(t, o.gw, oClients(o.issuer))

	for _, token := range []string{"", "not-a-jwt"} {
		var hdr [][2]string
		if token != "" {
			hdr = append(hdr, [2]string{"Authorization", "Bearer " + token})
		}
		resp := o.do(t, http.MethodGet, "/mcp/sse", nil, hdr...)
		ch := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, `Bearer realm="authgate"`) ||
			!strings.HasSuffix(ch, `, resource_metadata="`+metaURL+`"`) {
			t.Fatalf("GET /mcp/sse with token %q = %d, WWW-Authenticate %q; want 401 naming %s", token, resp.StatusCode, ch, metaURL)
		}
		if token != "" && !strings.Contains(ch, `error="invalid_token"`) {
			t.Errorf("a malformed token's challenge %q lost its RFC 6750 error code", ch)
		}
	}
	if ch := o.do(t, http.MethodGet, "/other", nil).Header.Get("WWW-Authenticate"); strings.Contains(ch, "resource_metadata") {
		t.Errorf("a route without oauth_resource answers WWW-Authenticate %q; want no resource_metadata", ch)
	}

	// The client follows the challenge, as RFC 9728 §5 has it.
	m := regexp.MustCompile(`resource_metadata="([^"]+)"`).FindStringSubmatch(o.do(t, http.MethodGet, "/mcp", nil).Header.Get("WWW-Authenticate"))
	if m == nil {
		t.Fatal("no resource_metadata in the 401")
	}
	doc := o.send(t, mustRequest(t, http.MethodGet, m[1]))
	if doc.status != http.StatusOK || !strings.HasPrefix(doc.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s = %d %s %s; want 200 JSON", m[1], doc.status, doc.header.Get("Content-Type"), doc.raw)
	}
	servers, _ := doc.body["authorization_servers"].([]any)
	methods, _ := doc.body["bearer_methods_supported"].([]any)
	if doc.str("resource") != resource || len(servers) != 1 || servers[0] != o.issuer || !slices.Equal(methods, []any{"header"}) {
		t.Fatalf("metadata = %s; want resource %s, authorization_servers [%s], bearer_methods_supported [header]", doc.raw, resource, o.issuer)
	}
	if b.count() != 0 {
		t.Errorf("the backend saw %d requests; the 401s and the document are the gateway's", b.count())
	}
	if r := o.send(t, mustRequest(t, http.MethodPost, m[1])); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST %s = %d, Allow %q; want 405, GET, HEAD", m[1], r.status, r.header.Get("Allow"))
	}

	// RFC 8414 discovery at the authorization server it names.
	as := o.send(t, mustRequest(t, http.MethodGet, servers[0].(string)+"/.well-known/oauth-authorization-server"))
	tokenURL := as.str("token_endpoint")
	if as.status != http.StatusOK || as.str("issuer") != o.issuer || tokenURL == "" {
		t.Fatalf("authorization server metadata = %d %s", as.status, as.raw)
	}
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", oSecret)
	tok := o.send(t, req)
	if tok.status != http.StatusOK || tok.str("access_token") == "" {
		t.Fatalf("client_credentials at %s = %d %s", tokenURL, tok.status, tok.raw)
	}
	resp := o.do(t, http.MethodGet, "/mcp/sse", nil, [2]string{"Authorization", "Bearer " + tok.str("access_token")})
	if resp.StatusCode != http.StatusOK || b.count() != 1 || b.last(t).Header.Get("X-Auth-User-Id") != "svc" {
		t.Fatalf("GET /mcp/sse with the token = %d %s (backend saw %d); want 200 as svc", resp.StatusCode, resp.body, b.count())
	}

	// A reload without the key takes the document and the parameter away:
	// both belong to the routing a reload replaces.
	o.gw.write("oauth2:\n  enabled: true\n  clients:\n" + oClients(o.issuer) + "routes:\n" + catchAll + "  - {name: mcp, path: /mcp, upstream: " + b.URL + "}\n")
	o.runningServer.reload <- struct{}{}
	testenv.WaitFor(t, "the reload", func() bool {
		return !strings.Contains(o.do(t, http.MethodGet, "/mcp", nil).Header.Get("WWW-Authenticate"), "resource_metadata")
	})
	if r := o.send(t, mustRequest(t, http.MethodGet, metaURL)); r.status != http.StatusUnauthorized {
		t.Errorf("GET %s after the reload = %d %s; want the catch-all route's 401", metaURL, r.status, r.raw)
	}
}

// TestOAuth2ResourceConfigErrors: oauth_resource is refused, at its line,
// without the provider, on a route that never answers 401, and with a URL
// the route does not serve.
func TestOAuth2ResourceConfigErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.yaml")
	const on = "tokens:\n  algorithm: ES256\n  issuer: https://auth.example.com\noauth2:\n  enabled: true\n"
	route := func(lines ...string) string {
		return "routes:\n  - path: /mcp\n    hosts: [api.example.com]\n    upstream: \"builtin:echo\"\n    " + strings.Join(lines, "\n    ") + "\n"
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "fail-without-oauth2",
			yaml: route("oauth_resource: https://api.example.com/mcp"),
			want: []string{file + ":5:5: routes[0].oauth_resource: needs oauth2.enabled: true"},
		},
		{
			name: "fail-public-route",
			yaml: on + route("auth: public", "oauth_resource: https://api.example.com/mcp"),
			want: []string{file + ":11:5: routes[0].oauth_resource: applies only to auth: required"},
		},
		{
			name: "fail-http",
			yaml: on + route("oauth_resource: http://api.example.com/mcp"),
			want: []string{file + `:10:5: routes[0].oauth_resource: "http://api.example.com/mcp": resource must be an https URL`},
		},
		{
			name: "fail-other-host",
			yaml: on + route("oauth_resource: https://www.example.com/mcp"),
			want: []string{file + ":10:5: routes[0].oauth_resource: \"https://www.example.com/mcp\": its host www.example.com is not among this route's hosts"},
		},
		{
			name: "fail-other-path",
			yaml: on + route("oauth_resource: https://api.example.com/api"),
			want: []string{file + ":10:5: routes[0].oauth_resource: \"https://api.example.com/api\": its path /api is not under this route's path /mcp"},
		},
		{
			name: "fail-same-document",
			yaml: on + route("methods: [GET]", "oauth_resource: https://api.example.com/mcp") +
				"  - path: /mcp\n    hosts: [api.example.com]\n    methods: [POST]\n    upstream: \"builtin:echo\"\n    oauth_resource: https://api.example.com/mcp\n",
			want: []string{file + ":16:5: routes[1].oauth_resource: \"https://api.example.com/mcp\" has the same metadata document (/.well-known/oauth-protected-resource/mcp on api.example.com) as routes[0]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantParseErrors(t, file, tt.yaml, tt.want...)
		})
	}
}

// TestReadmeOAuthResourceExample loads the README's oauth_resource example
// with the provider on, so it cannot drift from what the loader accepts.
func TestReadmeOAuthResourceExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Protected-resource metadata for MCP and other OAuth-aware clients\n")
	if !ok {
		t.Fatal("README has no protected-resource metadata section")
	}
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(section)
	if block == nil {
		t.Fatal("no YAML block in the section")
	}
	dir := t.TempDir()
	pem, err := tokens.Keygen("ES256")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "signing.pem"), []byte(pem))
	file := filepath.Join(dir, "config.yaml")
	cfg, err := Loader{LookupEnv: noEnv}.Parse(file, []byte("tokens:\n"+oTokens(filepath.Join(dir, "signing.pem"), "https://auth.example.com")+"oauth2:\n  enabled: true\n"+block[1]))
	if err != nil {
		t.Fatalf("README example does not load:\n%s\n%v", block[1], err)
	}
	if got := cfg.Routes[0].OAuthResource; got != "https://api.example.com/mcp" {
		t.Errorf("oauth_resource = %q", got)
	}
}

// TestExplainOAuthResource: `authgate route` tells the metadata document
// apart from the route under it, and says where the route's 401s point.
func TestExplainOAuthResource(t *testing.T) {
	c := &Config{AuthAPI: authn.Config{Prefix: "/auth"}, OAuth2: provider.Config{Enabled: true}, Routes: []Route{
		{Name: "app", Path: "/", Auth: "required", Upstream: "builtin:echo"},
		{Name: "mcp", Path: "/mcp", Auth: "required", Upstream: "builtin:echo", OAuthResource: "https://api.example.com/mcp"},
	}}
	if got := Explain(c, "GET", "https://api.example.com/.well-known/oauth-protected-resource/mcp"); !strings.Contains(got, "result:   the RFC 9728 metadata of mcp (routes[1].oauth_resource)") {
		t.Errorf("Explain(the metadata) = %s", got)
	}
	if got := Explain(c, "GET", "https://other.example.com/.well-known/oauth-protected-resource/mcp"); !strings.Contains(got, "route:    app") {
		t.Errorf("Explain(the metadata path on another host) = %s; want the app route", got)
	}
	if got := Explain(c, "GET", "https://api.example.com/mcp/x"); !strings.Contains(got, "401s:     name the RFC 9728 metadata of https://api.example.com/mcp") {
		t.Errorf("Explain(the route) = %s", got)
	}
}
