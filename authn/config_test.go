package authn

import (
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/accounts"
)

// validConfig is a complete, defaulted section that Validate accepts.
func validConfig() Config {
	return Config{Prefix: "/auth", CookieName: "authgate", LoginLimit: "5/min", RegisterLimit: "10/hour"}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(c *Config)
		wantPath string // "" = valid
	}{
		{name: "ok-defaults", mutate: func(c *Config) {}},
		{name: "fail-prefix-relative", mutate: func(c *Config) { c.Prefix = "auth" }, wantPath: "auth_api.prefix"},
		{name: "fail-prefix-unclean", mutate: func(c *Config) { c.Prefix = "/a//auth" }, wantPath: "auth_api.prefix"},
		{name: "fail-prefix-root", mutate: func(c *Config) { c.Prefix = "/" }, wantPath: "auth_api.prefix"},
		{name: "fail-prefix-chars", mutate: func(c *Config) { c.Prefix = "/au%74h" }, wantPath: "auth_api.prefix"},
		{name: "fail-cookie-name", mutate: func(c *Config) { c.CookieName = "a;b" }, wantPath: "auth_api.cookie_name"},
		{name: "fail-login-limit", mutate: func(c *Config) { c.LoginLimit = "0/min" }, wantPath: "auth_api.login_limit"},
		{name: "fail-register-limit", mutate: func(c *Config) { c.RegisterLimit = "ten/hour" }, wantPath: "auth_api.register_limit"},
		{name: "fail-register-limit-empty", mutate: func(c *Config) { c.RegisterLimit = "" }, wantPath: "auth_api.register_limit"},
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

// TestParseLimit: auth_api.login_limit, as the throttle reads it.
func TestParseLimit(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantN   int
		wantPer time.Duration
		wantErr bool
	}{
		{"ok-default", "", 5, time.Minute, false},
		{"ok-per-minute", "5/min", 5, time.Minute, false},
		{"ok-per-second", "1/sec", 1, time.Second, false},
		{"ok-per-hour", "100/hour", 100, time.Hour, false},
		{"ok-spaces", " 3 / min ", 3, time.Minute, false},
		{"fail-no-unit", "5", 0, 0, true},
		{"fail-zero", "0/min", 0, 0, true},
		{"fail-negative", "-1/min", 0, 0, true},
		{"fail-not-a-number", "five/min", 0, 0, true},
		{"fail-unknown-unit", "5/day", 0, 0, true},
		{"fail-go-duration-unit", "5/1m", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// An unset login_limit is the section's default.
			c := Config{LoginLimit: tt.in}
			c.SetDefaults()
			n, per, err := accounts.ParseRate(c.LoginLimit)
			if (err != nil) != tt.wantErr {
				t.Fatalf("login_limit %q: error = %v; wantErr %v", tt.in, err, tt.wantErr)
			}
			if n != tt.wantN || per != tt.wantPer {
				t.Errorf("login_limit %q = %d, %v; want %d, %v", tt.in, n, per, tt.wantN, tt.wantPer)
			}
		})
	}
}

// TestRegisterLimitDefault: an unset register_limit is 10/hour (and the
// account service refuses one that is not a rate: accounts.TestRegisterLimitConfig).
func TestRegisterLimitDefault(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.RegisterLimit != defaultRegisterLimit || defaultRegisterLimit != "10/hour" {
		t.Errorf("register_limit default = %q; want %q", c.RegisterLimit, "10/hour")
	}
}
