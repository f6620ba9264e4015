package authn

import (
	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/store"
	"github.com/authgate/authgate/tokens"
)

// Config is the part of config.yaml that authn reads: the database, Redis,
// token, account and /auth API sections. gateway.Config inlines it, so these
// keys sit at the top level of the YAML file.
//
// A zero field means "use the default"; Defaults fills them once at load
// time so that nothing on the request path re-derives configuration.
type Config struct {
	Database store.Config    `yaml:"database"`
	Redis    denylist.Config `yaml:"redis"`
	Tokens   tokens.Config   `yaml:"tokens"`
	Accounts Accounts        `yaml:"accounts"`
	AuthAPI  AuthAPI         `yaml:"auth_api"`
}

// Accounts configures registration and password rules.
type Accounts struct {
	Registration      string `yaml:"registration"`        // closed (default) | open
	BcryptCost        int    `yaml:"bcrypt_cost"`         // default 12; 10..16
	MinPasswordLength int    `yaml:"min_password_length"` // default 8
}

// AuthAPI configures the /auth endpoints and the browser session cookie.
type AuthAPI struct {
	Prefix     string `yaml:"prefix"`      // default "/auth"
	CookieName string `yaml:"cookie_name"` // default "authgate"; sent as __Host-<name>
	// LoginLimit is failed logins allowed per username and per client IP,
	// as "N/unit" with unit sec, min or hour. Default "5/min".
	LoginLimit string `yaml:"login_limit"`
	// RegisterLimit is registrations (every POST {prefix}/register that
	// gets past request validation, whatever its outcome) allowed per
	// client address, written like LoginLimit; as many may be in progress
	// at once per address. Default "10/hour".
	RegisterLimit string `yaml:"register_limit"`
}
