package denylist

import (
	"strings"
	"testing"
)

// validConfig is a complete, defaulted section that Validate accepts.
func validConfig() Config {
	return Config{OnError: "deny", KeyPrefix: "authgate:"}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(c *Config)
		wantPath string // "" = valid
	}{
		{name: "ok-defaults", mutate: func(c *Config) {}},
		{name: "ok-rediss", mutate: func(c *Config) { c.URL = "rediss://:pw@redis:6380/1" }},
		{name: "fail-redis-scheme", mutate: func(c *Config) { c.URL = "tcp://redis:6379" }, wantPath: "redis.url"},
		{name: "fail-on-error", mutate: func(c *Config) { c.OnError = "Deny" }, wantPath: "redis.on_error"},
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
	c.URL = "tcp://:hunter3@redis:6379"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil; want problems")
	}
	if strings.Contains(err.Error(), "hunter3") {
		t.Errorf("Validate() = %q repeats %q", err, "hunter3")
	}
}
