package provider

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestResourceMetadata(t *testing.T) {
	p := newTestProvider(t, "https://id.example.test", "EdDSA")
	tests := []struct {
		name, resource, path, challenge string
		wantErr                         bool
	}{
		{name: "ok-path", resource: "https://api.example.test/mcp", path: "/.well-known/oauth-protected-resource/mcp",
			challenge: `resource_metadata="https://api.example.test/.well-known/oauth-protected-resource/mcp"`},
		{name: "ok-root", resource: "https://api.example.test", path: "/.well-known/oauth-protected-resource",
			challenge: `resource_metadata="https://api.example.test/.well-known/oauth-protected-resource"`},
		{name: "ok-root-slash", resource: "https://api.example.test/", path: "/.well-known/oauth-protected-resource",
			challenge: `resource_metadata="https://api.example.test/.well-known/oauth-protected-resource"`},
		{name: "fail-http", resource: "http://api.example.test/mcp", wantErr: true},
		{name: "fail-fragment", resource: "https://api.example.test/mcp#x", wantErr: true},
		{name: "fail-query", resource: "https://api.example.test/mcp?x=1", wantErr: true},
		{name: "fail-relative", resource: "/mcp", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := p.ResourceMetadata(tt.resource, []string{"mcp:tools"})
			path, perr := ResourceMetadataPath(tt.resource)
			ch, cerr := ResourceChallenge(tt.resource)
			if tt.wantErr {
				if err == nil || perr == nil || cerr == nil {
					t.Fatalf("ResourceMetadata(%q) = %v, %v, %v; want errors", tt.resource, err, perr, cerr)
				}
				return
			}
			if err != nil || perr != nil || cerr != nil {
				t.Fatalf("ResourceMetadata(%q): %v %v %v", tt.resource, err, perr, cerr)
			}
			if path != tt.path || ch != tt.challenge {
				t.Fatalf("path %q challenge %q; want %q, %q", path, ch, tt.path, tt.challenge)
			}
			rec := httptest.NewRecorder()
			ServeResourceMetadata(rec, doc)
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			// RFC 9728 §2: resource is REQUIRED; the others are what a client
			// needs to get a token.
			if got["resource"] != tt.resource || got["authorization_servers"].([]any)[0] != "https://id.example.test" ||
				got["bearer_methods_supported"].([]any)[0] != "header" || got["scopes_supported"].([]any)[0] != "mcp:tools" {
				t.Fatalf("document = %v", got)
			}
		})
	}
}
