package tokens

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conf"
)

// validConfig is a complete, defaulted section that Validate accepts.
func validConfig() Config {
	return Config{
		Issuer: "authgate", Audience: "authgate", Algorithm: "HS256",
		AccessTTL: conf.Duration(15 * time.Minute), RefreshTTL: conf.Duration(168 * time.Hour),
	}
}

func TestConfigValidate(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(key, []byte("not parsed by Validate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		mutate   func(c *Config)
		wantPath string // "" = valid
	}{
		{name: "ok-defaults", mutate: func(c *Config) {}},
		{name: "ok-es256", mutate: func(c *Config) { c.Algorithm, c.PrivateKeyFile = "ES256", key }},
		{name: "ok-secret", mutate: func(c *Config) { c.Secret = "q3J8vX0nW2rT5yL9kP1mZ7cB4dF6hG0s" }},
		{name: "ok-jwks-loopback-http", mutate: func(c *Config) {
			// ES256: a JWKS URL never holds HS256 keys (tokens.Config.Validate).
			c.Algorithm, c.PrivateKeyFile = "ES256", key
			c.VerifyKeys = []string{"http://127.0.0.1:8000/jwks.json"}
		}},
		{name: "fail-alg-case", mutate: func(c *Config) { c.Algorithm = "hs256" }, wantPath: "tokens.algorithm"},
		{name: "fail-alg-none", mutate: func(c *Config) { c.Algorithm = "none" }, wantPath: "tokens.algorithm"},
		{name: "fail-hs-with-key", mutate: func(c *Config) { c.PrivateKeyFile = key }, wantPath: "tokens.private_key_file"},
		{name: "fail-rs-without-key", mutate: func(c *Config) { c.Algorithm = "RS256" }, wantPath: "tokens.private_key_file"},
		{name: "fail-key-missing", mutate: func(c *Config) { c.Algorithm, c.PrivateKeyFile = "EdDSA", key+".nope" }, wantPath: "tokens.private_key_file"},
		{name: "fail-short-secret", mutate: func(c *Config) { c.Secret = "0123456789abcdef0123456789abcde" }, wantPath: "tokens.secret"},
		{name: "fail-jwks-http", mutate: func(c *Config) { c.VerifyKeys = []string{"http://keys.example.com/jwks.json"} }, wantPath: "tokens.verify_keys[0]"},
		{name: "fail-access-ttl-zero", mutate: func(c *Config) { c.AccessTTL = 0 }, wantPath: "tokens.access_ttl"},
		{name: "fail-refresh-not-longer", mutate: func(c *Config) { c.RefreshTTL = c.AccessTTL }, wantPath: "tokens.refresh_ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
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

// TestValidateNeverEchoesSecrets: problem messages end up in logs and CI
// output.
func TestValidateNeverEchoesSecrets(t *testing.T) {
	c := validConfig()
	c.Secret = "hunter4-short"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil; want problems")
	}
	if strings.Contains(err.Error(), "hunter4") {
		t.Errorf("Validate() = %q repeats %q", err, "hunter4")
	}
}
