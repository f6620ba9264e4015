package accounts

import (
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conftest"
)

// validConfig is a complete, defaulted section that Validate accepts.
func validConfig() Config {
	return Config{Registration: "open", BcryptCost: 12, MinPasswordLength: 8}
}

func TestConfigValidate(t *testing.T) {
	conftest.Validate(t, validConfig, Config.Validate, []conftest.Case[Config]{
		{Name: "ok-defaults", Mutate: func(c *Config) {}},
		{Name: "fail-registration", Mutate: func(c *Config) { c.Registration = "invite" }, WantPath: "accounts.registration"},
		{Name: "fail-bcrypt-high", Mutate: func(c *Config) { c.BcryptCost = 17 }, WantPath: "accounts.bcrypt_cost"},
		{Name: "fail-min-password", Mutate: func(c *Config) { c.MinPasswordLength = 7 }, WantPath: "accounts.min_password_length"},
	})
}

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
