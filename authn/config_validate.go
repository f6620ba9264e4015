package authn

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/conf"
)

// Validate reports every problem in the database, redis, tokens, accounts
// and auth_api sections, with key paths from the top of the file
// ("tokens.secret"). It expects defaults to have been applied (gateway's
// loader does that, and resolves relative file names against the config
// file's directory). It changes nothing; it may stat key files.
//
// No message repeats a secret, a password or a URL that may carry one.
func (c *Config) Validate() error {
	var p conf.Problems
	p.Merge("", c.Database.Validate())
	p.Merge("", c.Redis.Validate())
	p.Merge("", c.Tokens.Validate())
	c.Accounts.validate(&p)
	c.AuthAPI.validate(&p)
	return p.Err()
}

func (a Accounts) validate(p *conf.Problems) {
	switch a.Registration {
	case "open", "closed":
	default:
		p.Addf("accounts.registration", "%q must be open or closed", a.Registration)
	}
	if a.BcryptCost < 10 || a.BcryptCost > 16 {
		// Below 10 is too cheap to brute-force offline; above 16 a login
		// takes seconds of CPU and becomes a denial-of-service lever.
		p.Addf("accounts.bcrypt_cost", "%d is out of range: must be 10 to 16", a.BcryptCost)
	}
	if a.MinPasswordLength < 8 || a.MinPasswordLength > 128 {
		p.Addf("accounts.min_password_length", "%d is out of range: must be 8 (NIST SP 800-63B §3.1.1.2) to 128", a.MinPasswordLength)
	}
}

func (a AuthAPI) validate(p *conf.Problems) {
	switch pre := a.Prefix; {
	case !strings.HasPrefix(pre, "/"):
		p.Addf("auth_api.prefix", "%q must start with \"/\"", pre)
	case pre == "/":
		p.Addf("auth_api.prefix", "must not be \"/\": the auth API needs a path of its own, e.g. /auth")
	case strings.HasSuffix(pre, "/"):
		p.Addf("auth_api.prefix", "%q must not end with \"/\"", pre)
	case path.Clean(pre) != pre:
		p.Addf("auth_api.prefix", "%q is not a clean path: write %q", pre, path.Clean(pre))
	case strings.IndexFunc(pre, func(r rune) bool { return !isPrefixRune(r) }) >= 0:
		p.Addf("auth_api.prefix", "%q may only hold letters, digits and -._~/", pre)
	}
	if !isCookieToken(a.CookieName) {
		p.Addf("auth_api.cookie_name", "%q is not a valid cookie name: use letters, digits and -_ (RFC 6265 §4.1.1)", a.CookieName)
	}
	if _, _, err := ParseRate(a.LoginLimit); err != nil {
		p.Add("auth_api.login_limit", err)
	}
	if _, _, err := ParseRate(a.RegisterLimit); err != nil {
		p.Add("auth_api.register_limit", err)
	}
}

func isPrefixRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~/", r)
}

// isCookieToken reports whether s is an RFC 6265 §4.1.1 cookie-name: an
// RFC 2616 token (visible ASCII without separators).
func isCookieToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
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
	switch strings.TrimSpace(unit) {
	case "sec":
		per = time.Second
	case "min":
		per = time.Minute
	case "hour":
		per = time.Hour
	default:
		return 0, 0, bad
	}
	return n, per, nil
}
