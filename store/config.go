package store

import (
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/conf"
)

// Config is the database section of config.yaml: where users, sessions
// and (without Redis) revocations live.
type Config struct {
	// URL is "sqlite:PATH" (the embedded default, sqlite:data/authgate.db)
	// or "postgres://user:pass@host:5432/db?sslmode=disable".
	URL string `yaml:"url"`
	// Timeout bounds how long one account operation — a request to the
	// /auth API — may take, database and Redis waits and password hashing
	// (and the wait for a hashing slot) included, before it answers 503:
	// a database that stops answering must not hold clients. Default 5s.
	Timeout conf.Duration `yaml:"timeout"`
}

// Defaults of the database section.
const (
	defaultURL     = "sqlite:data/authgate.db"
	DefaultTimeout = 5 * time.Second
)

// SetDefaults fills what the file left out. The loader calls it once;
// nothing after it re-derives a default.
func (c *Config) SetDefaults() {
	if c.URL == "" {
		c.URL = defaultURL
	}
	if c.Timeout == 0 {
		c.Timeout = conf.Duration(DefaultTimeout)
	}
}

// Validate reports every problem of the section, at key paths from the
// top of the file ("database.url"). It expects SetDefaults to have run and
// changes nothing. No message repeats the URL: it may hold a password.
func (c Config) Validate() error {
	var p conf.Problems
	if t := c.Timeout.D(); t > time.Minute {
		p.Addf("database.timeout", "%s is too long: must be at most 1m", t)
	}
	const rule = "must be sqlite:PATH or postgres://user:pass@host:5432/db"
	switch {
	case strings.HasPrefix(c.URL, "sqlite:"):
		if sqlitePath(c.URL) == "" {
			p.Addf("database.url", "sqlite URL has no file path: %s", rule)
		}
	case isPostgres(c.URL):
		if u, err := url.Parse(c.URL); err != nil || u.Host == "" {
			p.Addf("database.url", "PostgreSQL URL cannot be parsed or has no host: %s", rule)
		}
	default:
		p.Addf("database.url", "unsupported scheme: %s", rule)
	}
	return p.Err()
}

// sqlitePath is the file of a sqlite: URL ("sqlite:PATH" or
// "sqlite://PATH").
func sqlitePath(rawURL string) string {
	return strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//")
}

func isPostgres(rawURL string) bool {
	return strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://")
}
