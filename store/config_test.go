package store

import (
	"testing"

	"github.com/authgate/authgate/internal/conftest"
)

// validConfig is a complete, defaulted section that Validate accepts.
func validConfig() Config {
	return Config{URL: "sqlite:data/authgate.db"}
}

func TestConfigValidate(t *testing.T) {
	conftest.Validate(t, validConfig, Config.Validate, []conftest.Case[Config]{
		{Name: "ok-defaults", Mutate: func(c *Config) {}},
		{Name: "ok-postgres", Mutate: func(c *Config) { c.URL = "postgres://u:p@db:5432/x?sslmode=disable" }},
		{Name: "fail-database-scheme", Mutate: func(c *Config) { c.URL = "mysql://x" }, WantPath: "database.url"},
		{Name: "fail-sqlite-no-path", Mutate: func(c *Config) { c.URL = "sqlite:" }, WantPath: "database.url"},
	})
}

// TestValidateNeverEchoesSecrets: problem messages end up in logs and CI
// output.
func TestValidateNeverEchoesSecrets(t *testing.T) {
	c := validConfig()
	c.URL = "mysql://root:hunter2@db/x"
	conftest.NeverEchoes(t, c.Validate(), "hunter2")
}
