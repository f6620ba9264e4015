package accounts

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/conf"
)

// Config is the accounts section of config.yaml: registration and the
// password rules.
type Config struct {
	Registration      string `yaml:"registration"`        // closed (default) | open
	BcryptCost        int    `yaml:"bcrypt_cost"`         // default 12; 10..16
	MinPasswordLength int    `yaml:"min_password_length"` // default 8; 8..128
	// PasswordHash is the scheme of the hashes authgate writes: authgate
	// (default: bcrypt over an HMAC-SHA-256 pre-hash, no 72-byte limit) or
	// passlib (plain "$2b$" bcrypt, which the FastAPI original verifies:
	// for the migration window, so that rolling back to it locks nobody
	// out). Under passlib, new passwords longer than 72 bytes are refused
	// rather than silently truncated, and hashes are kept or written in
	// that scheme (issue 12).
	PasswordHash string `yaml:"password_hash"`
}

// Defaults and values of the accounts section.
const (
	defaultBcryptCost        = 12
	defaultMinPasswordLength = 8
	registrationOpen         = "open"
	registrationClosed       = "closed"
	PasswordHashAuthgate     = "authgate"
	PasswordHashPasslib      = "passlib"
)

// SetDefaults fills what the file left out: registration is closed unless
// the operator opens it (for "a legacy app behind a login", open
// registration means anyone can sign up: issue 16). The loader calls it
// once; nothing after it re-derives a default.
func (c *Config) SetDefaults() {
	if c.Registration == "" {
		c.Registration = registrationClosed
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = defaultBcryptCost
	}
	if c.MinPasswordLength == 0 {
		c.MinPasswordLength = defaultMinPasswordLength
	}
	if c.PasswordHash == "" {
		c.PasswordHash = PasswordHashAuthgate
	}
}

// Validate reports every problem of the section, at key paths from the top
// of the file ("accounts.bcrypt_cost"). It expects SetDefaults to have run
// and changes nothing.
func (c Config) Validate() error {
	var p conf.Problems
	switch c.Registration {
	case registrationOpen, registrationClosed:
	default:
		p.Addf("accounts.registration", "%q must be open or closed", c.Registration)
	}
	if c.BcryptCost < 10 || c.BcryptCost > 16 {
		// Below 10 is too cheap to brute-force offline; above 16 a login
		// takes seconds of CPU and becomes a denial-of-service lever.
		p.Addf("accounts.bcrypt_cost", "%d is out of range: must be 10 to 16", c.BcryptCost)
	}
	switch c.PasswordHash {
	case "", PasswordHashAuthgate, PasswordHashPasslib: // "": authgate
	default:
		p.Addf("accounts.password_hash", "%q must be authgate or passlib", c.PasswordHash)
	}
	if c.MinPasswordLength < 8 || c.MinPasswordLength > 128 {
		p.Addf("accounts.min_password_length", "%d is out of range: must be 8 (NIST SP 800-63B §3.1.1.2) to 128", c.MinPasswordLength)
	}
	return p.Err()
}

// ParseRate parses a rate limit written "N/unit" with unit sec, min or hour
// ("5/min") into the count and the window it applies to. N must be at
// least 1.
func ParseRate(s string) (n int, per time.Duration, err error) {
	bad := fmt.Errorf("%q is not a rate: write N/sec, N/min or N/hour with N at least 1, e.g. 5/min", s)
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, bad
	}
	n, err = strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 {
		return 0, 0, bad
	}
	per, ok = map[string]time.Duration{"sec": time.Second, "min": time.Minute, "hour": time.Hour}[strings.TrimSpace(unit)]
	if !ok {
		return 0, 0, bad
	}
	return n, per, nil
}
