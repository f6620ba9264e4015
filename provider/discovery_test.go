package provider

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// TestDiscovery: both well-known documents carry what RFC 8414 §2 and
// OIDC Discovery §3 require, for exactly the configured issuer.
func TestDiscovery(t *testing.T) {
	h := newHarness(t)
	var docs []map[string]any
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp := h.get(t, path, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s = %d %s; want 200 JSON", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		docs = append(docs, jsonBody(t, resp))
	}
	if !reflect.DeepEqual(docs[0], docs[1]) {
		t.Fatalf("the two documents differ:\n%v\n%v", docs[0], docs[1])
	}
	doc := docs[0]
	// RFC 8414 §2 REQUIRED, and OIDC Discovery §3 REQUIRED.
	for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "response_types_supported",
		"jwks_uri", "subject_types_supported", "id_token_signing_alg_values_supported"} {
		if doc[k] == nil {
			t.Errorf("metadata has no %s", k)
		}
	}
	want := map[string]any{
		"issuer":                 h.issuer,
		"authorization_endpoint": h.issuer + "/auth/oauth2/authorize",
		"token_endpoint":         h.issuer + "/auth/oauth2/token",
		"introspection_endpoint": h.issuer + "/auth/oauth2/introspect",
		"revocation_endpoint":    h.issuer + "/auth/oauth2/revoke",
		"userinfo_endpoint":      h.issuer + "/auth/oauth2/userinfo",
		"end_session_endpoint":   h.issuer + "/auth/oauth2/logout",
		"jwks_uri":               h.issuer + "/auth/jwks.json",
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v; want %v", k, doc[k], v)
		}
	}
	for k, v := range map[string][]any{
		"response_types_supported":              {"code"},
		"code_challenge_methods_supported":      {"S256"},
		"id_token_signing_alg_values_supported": {"ES256"},
		"grant_types_supported":                 {"authorization_code", "refresh_token", "client_credentials", "password"},
	} {
		if !reflect.DeepEqual(doc[k], v) {
			t.Errorf("%s = %v; want %v", k, doc[k], v)
		}
	}
	if doc["request_uri_parameter_supported"] != false {
		t.Errorf("request_uri_parameter_supported = %v; want false", doc["request_uri_parameter_supported"])
	}

	for _, path := range []string{"/.well-known/oauth-authorization-server/other", "/other/.well-known/openid-configuration"} {
		if resp := h.get(t, path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d; want 404 (RFC 8414 §3.3: not our issuer)", path, resp.StatusCode)
		}
	}
}

// TestDiscoveryIssuerWithPath: an issuer with a path has its metadata
// where RFC 8414 §3 and OIDC Discovery §4 put it.
func TestDiscoveryIssuerWithPath(t *testing.T) {
	p := newTestProvider(t, "https://id.example.test/tenant", "EdDSA")
	for _, path := range []string{
		"/.well-known/oauth-authorization-server/tenant",
		"/.well-known/openid-configuration/tenant",
		"/tenant/.well-known/openid-configuration",
	} {
		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://id.example.test"+path, nil))
		var doc map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil || doc["issuer"] != "https://id.example.test/tenant" {
			t.Errorf("GET %s = %d %s; want the tenant issuer's metadata", path, rec.Code, rec.Body)
		}
		if doc["authorization_endpoint"] != "https://id.example.test/auth/oauth2/authorize" {
			t.Errorf("authorization_endpoint = %v; want it on the issuer's origin under the prefix", doc["authorization_endpoint"])
		}
	}
}

// newTestProvider builds a provider over fakes for tests that call its
// handler directly.
func newTestProvider(t *testing.T, issuer, alg string) *Provider {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testenv.OffsetClock{}
	clients, err := NewStaticClients(testClients(t))
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeAccounts(clock, clients)
	p, err := New(Config{Enabled: true}, Options{
		Issuer: issuer, Prefix: "/auth", Key: SigningKey{Signer: key, Algorithm: alg, KeyID: "k1"},
		Clients: clients, Codes: NewMemoryCodes(time.Hour), Consents: NewMemoryConsents(),
		Accounts: f, Tokens: f, Browser: f,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// TestNewRefuses: New finds every mistake a request would otherwise meet.
func TestNewRefuses(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	clock := &testenv.OffsetClock{}
	f := newFakeAccounts(clock, nil)
	base := func() Options {
		return Options{
			Issuer: "https://id.example.test", Prefix: "/auth", Key: SigningKey{Signer: ed, Algorithm: "EdDSA", KeyID: "k1"},
			Codes: NewMemoryCodes(time.Hour), Consents: NewMemoryConsents(), Accounts: f, Tokens: f, Browser: f,
		}
	}
	tests := []struct {
		name   string
		cfg    Config
		mutate func(*Options)
	}{
		{name: "fail-disabled", cfg: Config{}, mutate: func(o *Options) {}},
		{name: "fail-http-issuer", cfg: Config{Enabled: true}, mutate: func(o *Options) { o.Issuer = "http://id.example.test" }},
		{name: "fail-issuer-not-url", cfg: Config{Enabled: true}, mutate: func(o *Options) { o.Issuer = "authgate" }},
		{name: "fail-prefix", cfg: Config{Enabled: true}, mutate: func(o *Options) { o.Prefix = "/auth/{x}" }},
		{name: "fail-no-key", cfg: Config{Enabled: true}, mutate: func(o *Options) { o.Key = SigningKey{} }},
		{name: "fail-alg-mismatch", cfg: Config{Enabled: true}, mutate: func(o *Options) { o.Key.Algorithm = "ES256" }},
		{name: "fail-hs256", cfg: Config{Enabled: true}, mutate: func(o *Options) { o.Key.Algorithm = "HS256" }},
		{name: "fail-no-kid", cfg: Config{Enabled: true}, mutate: func(o *Options) { o.Key.KeyID = "" }},
		{name: "fail-no-codes", cfg: Config{Enabled: true}, mutate: func(o *Options) { o.Codes = nil }},
		{name: "fail-no-browser", cfg: Config{Enabled: true}, mutate: func(o *Options) { o.Browser = nil }},
		{name: "fail-bad-client", cfg: Config{Enabled: true, Clients: []ClientConfig{{ID: "x", Public: true, Grants: []string{"implicit"}}}}, mutate: func(o *Options) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.mutate(&o)
			if _, err := New(tt.cfg, o); err == nil {
				t.Fatal("New = nil error; want a refusal")
			}
		})
	}
}
