package denylist

import (
	"net/url"

	"github.com/authgate/authgate/internal/conf"
)

// Config is the redis section of config.yaml. Redis is optional: without
// it the denylist is kept in the database and the login throttle in
// memory.
type Config struct {
	URL string `yaml:"url"` // redis://127.0.0.1:6379/0; "" = no Redis
	// OnError decides what protected routes do while the denylist mirror
	// cannot be trusted: "deny" (default, fail closed with 503) or "allow".
	OnError string `yaml:"on_error"`
	// KeyPrefix namespaces every key and channel authgate uses, so several
	// deployments (and tests) can share one Redis. Default "authgate:".
	KeyPrefix string `yaml:"key_prefix"`
}

// defaultKeyPrefix is redis.key_prefix's default.
const defaultKeyPrefix = "authgate:"

// SetDefaults fills what the file left out. The loader calls it once;
// nothing after it re-derives a default.
func (c *Config) SetDefaults() {
	if c.OnError == "" {
		c.OnError = OnErrorDeny
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = defaultKeyPrefix
	}
}

// Validate reports every problem of the section, at key paths from the top
// of the file ("redis.url"). It expects SetDefaults to have run and changes
// nothing. No message repeats the URL: it may hold a password.
func (c Config) Validate() error {
	var p conf.Problems
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil:
			p.Addf("redis.url", "cannot be parsed: write redis://host:6379/0 or rediss:// for TLS")
		case u.Scheme != "redis" && u.Scheme != "rediss":
			p.Addf("redis.url", "unsupported scheme %q: write redis://host:6379/0 or rediss:// for TLS", u.Scheme)
		case u.Host == "":
			p.Addf("redis.url", "has no host: write redis://host:6379/0")
		default:
			// Whatever else the client would refuse (a bad database
			// number, an unknown option), refused here, by its parser.
			if _, err := redisOptions(c.URL); err != nil {
				p.Add("redis.url", err)
			}
		}
	}
	switch c.OnError {
	case OnErrorDeny, OnErrorAllow:
	default:
		p.Addf("redis.on_error", "%q must be deny (fail closed) or allow", c.OnError)
	}
	if c.KeyPrefix == "" {
		p.Addf("redis.key_prefix", "must not be empty")
	}
	return p.Err()
}
