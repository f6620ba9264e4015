package authn

import (
	"testing"
	"time"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/internal/conftest"
)

// validConfig is a complete, defaulted section that Validate accepts.
func validConfig() Config {
	return Config{Prefix: "/auth", CookieName: "authgate", LoginLimit: "5/min", RegisterLimit: "10/hour"}
}

func TestConfigValidate(t *testing.T) {
	conftest.Validate(t, validConfig, Config.Validate, []conftest.Case[Config]{
		{Name: "ok-defaults", Mutate: func(c *Config) {}},
		{Name: "fail-prefix-relative", Mutate: func(c *Config) { c.Prefix = "auth" }, WantPath: "auth_api.prefix"},
		{Name: "fail-prefix-unclean", Mutate: func(c *Config) { c.Prefix = "/a//auth" }, WantPath: "auth_api.prefix"},
		{Name: "fail-prefix-root", Mutate: func(c *Config) { c.Prefix = "/" }, WantPath: "auth_api.prefix"},
		{Name: "fail-prefix-chars", Mutate: func(c *Config) { c.Prefix = "/au%74h" }, WantPath: "auth_api.prefix"},
		{Name: "fail-cookie-name", Mutate: func(c *Config) { c.CookieName = "a;b" }, WantPath: "auth_api.cookie_name"},
		{Name: "fail-login-limit", Mutate: func(c *Config) { c.LoginLimit = "0/min" }, WantPath: "auth_api.login_limit"},
		{Name: "fail-register-limit", Mutate: func(c *Config) { c.RegisterLimit = "ten/hour" }, WantPath: "auth_api.register_limit"},
		{Name: "fail-register-limit-empty", Mutate: func(c *Config) { c.RegisterLimit = "" }, WantPath: "auth_api.register_limit"},
	})
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
