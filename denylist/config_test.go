package denylist

import (
	"testing"

	"github.com/authgate/authgate/internal/conftest"
)

// validConfig is a complete, defaulted section that Validate accepts.
func validConfig() Config {
	return Config{OnError: "deny", KeyPrefix: "authgate:"}
}

func TestConfigValidate(t *testing.T) {
	conftest.Validate(t, validConfig, Config.Validate, []conftest.Case[Config]{
		{Name: "ok-defaults", Mutate: func(c *Config) {}},
		{Name: "ok-rediss", Mutate: func(c *Config) { c.URL = "rediss://:pw@redis:6380/1" }},
		{Name: "fail-redis-scheme", Mutate: func(c *Config) { c.URL = "tcp://redis:6379" }, WantPath: "redis.url"},
		{Name: "fail-on-error", Mutate: func(c *Config) { c.OnError = "Deny" }, WantPath: "redis.on_error"},
	})
}

// TestValidateNeverEchoesSecrets: problem messages end up in logs and CI
// output.
func TestValidateNeverEchoesSecrets(t *testing.T) {
	c := validConfig()
	c.URL = "tcp://:hunter3@redis:6379"
	conftest.NeverEchoes(t, c.Validate(), "hunter3")
}
