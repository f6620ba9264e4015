package upstream

import (
	"time"

	"github.com/authgate/authgate/internal/conf"
)

// Config is the part of config.yaml that upstream reads. gateway.Config
// inlines it, so identity_headers and upstreams are top-level keys.
type Config struct {
	IdentityHeaders IdentityHeaders       `yaml:"identity_headers"`
	Upstreams       map[string]PoolConfig `yaml:"upstreams"`
}

// IdentityHeaders names the headers the proxy sets from the verified
// identity. Client-sent copies of every one of them (in any case, and with
// "_" for "-") are removed from every request on every route. An empty name
// turns that header off; defaults are X-Auth-User-Id, X-Auth-User,
// X-Auth-Email and X-Auth-Roles. Assertion is off unless named.
type IdentityHeaders struct {
	UserID    string `yaml:"user_id"`
	Username  string `yaml:"username"`
	Email     string `yaml:"email"`
	Roles     string `yaml:"roles"`
	Assertion string `yaml:"assertion"` // e.g. X-Auth-Jwt: a ≤60 s JWT signed by the gateway
}

// PoolConfig is one named pool of interchangeable targets.
type PoolConfig struct {
	Targets     []string    `yaml:"targets"` // absolute http(s) URLs, no query or fragment
	Balance     string      `yaml:"balance"` // round_robin (default) | least_conn | random
	HealthCheck HealthCheck `yaml:"health_check"`
	// Timeout bounds the wait for the upstream's response headers; beyond it
	// the client gets 504. Default 30s.
	Timeout conf.Duration `yaml:"timeout"`
	// DialTimeout bounds connecting to a target. Default 5s.
	DialTimeout conf.Duration `yaml:"dial_timeout"`
	// MaxIdleConnsPerTarget keeps this many idle keep-alive connections per
	// target for reuse. Default 256 (Go's default of 2 makes a busy proxy
	// open a new connection for most requests).
	MaxIdleConnsPerTarget int `yaml:"max_idle_conns_per_target"`
}

// HealthCheck configures active health checking. With an empty Path no
// active checks run; passive ejection on connection errors always applies.
type HealthCheck struct {
	Path     string        `yaml:"path"`
	Interval conf.Duration `yaml:"interval"` // default 10s
	Timeout  conf.Duration `yaml:"timeout"`  // default 2s
}

// Defaults of a pool's settings: for a named pool's absent keys, and for
// the pool of one target a route builds when its upstream is a URL.
const (
	defaultBalance        = "round_robin"
	defaultTimeout        = 30 * time.Second
	defaultDialTimeout    = 5 * time.Second
	defaultIdlePerTarget  = 256
	defaultHealthInterval = 10 * time.Second
	defaultHealthTimeout  = 2 * time.Second
)

// The identity headers a config that does not name them gets.
var defaultIdentityHeaders = IdentityHeaders{
	UserID: "X-Auth-User-Id", Username: "X-Auth-User", Email: "X-Auth-Email", Roles: "X-Auth-Roles",
}

// SetDefaults fills what the file left out. present(path) tells whether
// the file has the key at path ("identity_headers.user_id"): an identity
// header that is absent gets its default, one written empty stays off.
// The loader calls it once; nothing after it re-derives a default.
func (c *Config) SetDefaults(present func(path string) bool) {
	h, def := &c.IdentityHeaders, defaultIdentityHeaders
	for _, f := range []struct {
		key      string
		dst      *string
		fallback string
	}{
		{"user_id", &h.UserID, def.UserID},
		{"username", &h.Username, def.Username},
		{"email", &h.Email, def.Email},
		{"roles", &h.Roles, def.Roles},
	} {
		if !present("identity_headers." + f.key) {
			*f.dst = f.fallback
		}
	}
	for name, pool := range c.Upstreams {
		pool.SetDefaults()
		c.Upstreams[name] = pool
	}
}

// SetDefaults fills the pool settings left out.
func (pc *PoolConfig) SetDefaults() {
	if pc.Balance == "" {
		pc.Balance = defaultBalance
	}
	for _, d := range []struct {
		dst *conf.Duration
		def time.Duration
	}{
		{&pc.Timeout, defaultTimeout},
		{&pc.DialTimeout, defaultDialTimeout},
		{&pc.HealthCheck.Interval, defaultHealthInterval},
		{&pc.HealthCheck.Timeout, defaultHealthTimeout},
	} {
		if *d.dst == 0 {
			*d.dst = conf.Duration(d.def)
		}
	}
	if pc.MaxIdleConnsPerTarget == 0 {
		pc.MaxIdleConnsPerTarget = defaultIdlePerTarget
	}
}
