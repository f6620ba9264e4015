package store

import (
	"strings"
	"testing"
)

// validConfig is a complete, defaulted section that Validate accepts.
func validConfig() Config {
	return Config{URL: "sqlite:data/authgate.db"}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(c *Config)
		wantPath string // "" = valid
	}{
		{name: "ok-defaults", mutate: func(c *Config) {}},
		{name: "ok-postgres", mutate: func(c *Config) { c.URL = "postgres://u:p@db:5432/x?sslmode=disable" }},
		{name: "fail-database-scheme", mutate: func(c *Config) { c.URL = "mysql://x" }, wantPath: "database.url"},
		{name: "fail-sqlite-no-path", mutate: func(c *Config) { c.URL = "sqlite:" }, wantPath: "database.url"},
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
	c.URL = "mysql://root:hunter2@db/x"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil; want problems")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %q repeats %q", err, "hunter2")
	}
}
