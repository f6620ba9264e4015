package upstream

import "github.com/authgate/authgate/internal/conf"

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
