package authn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/store"
	"github.com/authgate/authgate/tokens"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantN   int
		wantPer time.Duration
		wantErr bool
	}{
		{name: "ok-min", in: "5/min", wantN: 5, wantPer: time.Minute},
		{name: "ok-sec", in: "1/sec", wantN: 1, wantPer: time.Second},
		{name: "ok-hour-spaces", in: " 100 / hour ", wantN: 100, wantPer: time.Hour},
		{name: "fail-zero", in: "0/min", wantErr: true},
		{name: "fail-negative", in: "-1/min", wantErr: true},
		{name: "fail-no-unit", in: "5", wantErr: true},
		{name: "fail-unknown-unit", in: "5/day", wantErr: true},
		{name: "fail-long-unit", in: "5/minute", wantErr: true},
		{name: "fail-words", in: "5 per minute", wantErr: true},
		{name: "fail-empty", in: "", wantErr: true},
		{name: "fail-fraction", in: "1.5/min", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, per, err := ParseRate(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseRate(%q) = %d, %s, nil; want an error", tt.in, n, per)
				}
				return
			}
			if err != nil || n != tt.wantN || per != tt.wantPer {
				t.Fatalf("ParseRate(%q) = %d, %s, %v; want %d, %s", tt.in, n, per, err, tt.wantN, tt.wantPer)
			}
		})
	}
}

// validConfig is a complete, defaulted config that Validate accepts.
func validConfig() Config {
	return Config{
		Database: store.Config{URL: "sqlite:data/authgate.db"},
		Redis:    denylist.Config{OnError: "deny", KeyPrefix: "authgate:"},
		Tokens: tokens.Config{
			Issuer: "authgate", Audience: "authgate", Algorithm: "HS256",
			AccessTTL: conf.Duration(15 * time.Minute), RefreshTTL: conf.Duration(168 * time.Hour),
		},
		Accounts: Accounts{Registration: "open", BcryptCost: 12, MinPasswordLength: 8},
		AuthAPI:  AuthAPI{Prefix: "/auth", CookieName: "authgate", LoginLimit: "5/min", RegisterLimit: "10/hour"},
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
		{name: "ok-postgres", mutate: func(c *Config) { c.Database.URL = "postgres://u:p@db:5432/x?sslmode=disable" }},
		{name: "ok-rediss", mutate: func(c *Config) { c.Redis.URL = "rediss://:pw@redis:6380/1" }},
		{name: "ok-es256", mutate: func(c *Config) { c.Tokens.Algorithm, c.Tokens.PrivateKeyFile = "ES256", key }},
		{name: "ok-secret", mutate: func(c *Config) { c.Tokens.Secret = "q3J8vX0nW2rT5yL9kP1mZ7cB4dF6hG0s" }},
		{name: "ok-jwks-loopback-http", mutate: func(c *Config) {
			// ES256: a JWKS URL never holds HS256 keys (tokens.Config.Validate).
			c.Tokens.Algorithm, c.Tokens.PrivateKeyFile = "ES256", key
			c.Tokens.VerifyKeys = []string{"http://127.0.0.1:8000/jwks.json"}
		}},
		{name: "fail-database-scheme", mutate: func(c *Config) { c.Database.URL = "mysql://x" }, wantPath: "database.url"},
		{name: "fail-sqlite-no-path", mutate: func(c *Config) { c.Database.URL = "sqlite:" }, wantPath: "database.url"},
		{name: "fail-redis-scheme", mutate: func(c *Config) { c.Redis.URL = "tcp://redis:6379" }, wantPath: "redis.url"},
		{name: "fail-on-error", mutate: func(c *Config) { c.Redis.OnError = "Deny" }, wantPath: "redis.on_error"},
		{name: "fail-alg-case", mutate: func(c *Config) { c.Tokens.Algorithm = "hs256" }, wantPath: "tokens.algorithm"},
		{name: "fail-alg-none", mutate: func(c *Config) { c.Tokens.Algorithm = "none" }, wantPath: "tokens.algorithm"},
		{name: "fail-hs-with-key", mutate: func(c *Config) { c.Tokens.PrivateKeyFile = key }, wantPath: "tokens.private_key_file"},
		{name: "fail-rs-without-key", mutate: func(c *Config) { c.Tokens.Algorithm = "RS256" }, wantPath: "tokens.private_key_file"},
		{name: "fail-key-missing", mutate: func(c *Config) { c.Tokens.Algorithm, c.Tokens.PrivateKeyFile = "EdDSA", key+".nope" }, wantPath: "tokens.private_key_file"},
		{name: "fail-short-secret", mutate: func(c *Config) { c.Tokens.Secret = "0123456789abcdef0123456789abcde" }, wantPath: "tokens.secret"},
		{name: "fail-jwks-http", mutate: func(c *Config) { c.Tokens.VerifyKeys = []string{"http://keys.example.com/jwks.json"} }, wantPath: "tokens.verify_keys[0]"},
		{name: "fail-access-ttl-zero", mutate: func(c *Config) { c.Tokens.AccessTTL = 0 }, wantPath: "tokens.access_ttl"},
		{name: "fail-refresh-not-longer", mutate: func(c *Config) { c.Tokens.RefreshTTL = c.Tokens.AccessTTL }, wantPath: "tokens.refresh_ttl"},
		{name: "fail-registration", mutate: func(c *Config) { c.Accounts.Registration = "invite" }, wantPath: "accounts.registration"},
		{name: "fail-bcrypt-high", mutate: func(c *Config) { c.Accounts.BcryptCost = 17 }, wantPath: "accounts.bcrypt_cost"},
		{name: "fail-min-password", mutate: func(c *Config) { c.Accounts.MinPasswordLength = 7 }, wantPath: "accounts.min_password_length"},
		{name: "fail-prefix-relative", mutate: func(c *Config) { c.AuthAPI.Prefix = "auth" }, wantPath: "auth_api.prefix"},
		{name: "fail-prefix-unclean", mutate: func(c *Config) { c.AuthAPI.Prefix = "/a//auth" }, wantPath: "auth_api.prefix"},
		{name: "fail-prefix-root", mutate: func(c *Config) { c.AuthAPI.Prefix = "/" }, wantPath: "auth_api.prefix"},
		{name: "fail-prefix-chars", mutate: func(c *Config) { c.AuthAPI.Prefix = "/au%74h" }, wantPath: "auth_api.prefix"},
		{name: "fail-cookie-name", mutate: func(c *Config) { c.AuthAPI.CookieName = "a;b" }, wantPath: "auth_api.cookie_name"},
		{name: "fail-login-limit", mutate: func(c *Config) { c.AuthAPI.LoginLimit = "0/min" }, wantPath: "auth_api.login_limit"},
		{name: "fail-register-limit", mutate: func(c *Config) { c.AuthAPI.RegisterLimit = "ten/hour" }, wantPath: "auth_api.register_limit"},
		{name: "fail-register-limit-empty", mutate: func(c *Config) { c.AuthAPI.RegisterLimit = "" }, wantPath: "auth_api.register_limit"},
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
	c.Database.URL = "mysql://root:hunter2@db/x"
	c.Redis.URL = "tcp://:hunter3@redis:6379"
	c.Tokens.Secret = "hunter4-short"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil; want problems")
	}
	for _, s := range []string{"hunter2", "hunter3", "hunter4"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("Validate() = %q repeats %q", err, s)
		}
	}
}
