package tokens

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/conftest"
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
	conftest.Validate(t, validConfig, Config.Validate, []conftest.Case[Config]{
		{Name: "ok-defaults", Mutate: func(c *Config) {}},
		{Name: "ok-es256", Mutate: func(c *Config) { c.Algorithm, c.PrivateKeyFile = "ES256", key }},
		{Name: "ok-secret", Mutate: func(c *Config) { c.Secret = "q3J8vX0nW2rT5yL9kP1mZ7cB4dF6hG0s" }},
		{Name: "ok-jwks-loopback-http", Mutate: func(c *Config) {
			// ES256: a JWKS URL never holds HS256 keys (tokens.Config.Validate).
			c.Algorithm, c.PrivateKeyFile = "ES256", key
			c.VerifyKeys = []string{"http://127.0.0.1:8000/jwks.json"}
		}},
		{Name: "fail-alg-case", Mutate: func(c *Config) { c.Algorithm = "hs256" }, WantPath: "tokens.algorithm"},
		{Name: "fail-alg-none", Mutate: func(c *Config) { c.Algorithm = "none" }, WantPath: "tokens.algorithm"},
		{Name: "fail-hs-with-key", Mutate: func(c *Config) { c.PrivateKeyFile = key }, WantPath: "tokens.private_key_file"},
		{Name: "fail-rs-without-key", Mutate: func(c *Config) { c.Algorithm = "RS256" }, WantPath: "tokens.private_key_file"},
		{Name: "fail-key-missing", Mutate: func(c *Config) { c.Algorithm, c.PrivateKeyFile = "EdDSA", key+".nope" }, WantPath: "tokens.private_key_file"},
		{Name: "fail-short-secret", Mutate: func(c *Config) { c.Secret = "0123456789abcdef0123456789abcde" }, WantPath: "tokens.secret"},
		{Name: "fail-jwks-http", Mutate: func(c *Config) { c.VerifyKeys = []string{"http://keys.example.com/jwks.json"} }, WantPath: "tokens.verify_keys[0]"},
		{Name: "fail-access-ttl-zero", Mutate: func(c *Config) { c.AccessTTL = 0 }, WantPath: "tokens.access_ttl"},
		{Name: "fail-refresh-not-longer", Mutate: func(c *Config) { c.RefreshTTL = c.AccessTTL }, WantPath: "tokens.refresh_ttl"},
	})
}

// TestValidateNeverEchoesSecrets: problem messages end up in logs and CI
// output.
func TestValidateNeverEchoesSecrets(t *testing.T) {
	c := validConfig()
	c.Secret = "hunter4-short"
	conftest.NeverEchoes(t, c.Validate(), "hunter4")
}
