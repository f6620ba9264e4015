package gateway

import (
	"path/filepath"
	"strings"

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/authn"
	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/federation"
	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/provider"
	"github.com/authgate/authgate/store"
	"github.com/authgate/authgate/tokens"
	"github.com/authgate/authgate/upstream"
)

// Config is the whole of config.yaml. It composes the sections each
// package owns — its struct, defaults and validation live there — with the
// ones the gateway reads itself.
type Config struct {
	Listen         Listen   `yaml:"listen"`
	TLS            TLS      `yaml:"tls"`
	TrustedProxies []string `yaml:"trusted_proxies"` // CIDRs or addresses whose X-Forwarded-* are believed

	Database store.Config    `yaml:"database"`
	Redis    denylist.Config `yaml:"redis"`
	Tokens   tokens.Config   `yaml:"tokens"`
	Accounts accounts.Config `yaml:"accounts"`
	AuthAPI  authn.Config    `yaml:"auth_api"`
	// OAuth2 is the OAuth2/OIDC provider (package provider).
	OAuth2 provider.Config `yaml:"oauth2"`
	// Upstream holds two sections, identity_headers and upstreams.
	Upstream upstream.Config `yaml:",inline"`
	// Federation holds identity_providers: sign-in with upstream OIDC
	// providers and GitHub (issue 13).
	Federation federation.Config `yaml:",inline"`

	Routes []Route `yaml:"routes"`
	// ForwardAuth configures {prefix}/verify, the check an ingress asks
	// before it proxies a request itself (forward_auth.go).
	ForwardAuth ForwardAuth `yaml:"forward_auth"`

	Limits  Limits  `yaml:"limits"`
	Runtime Runtime `yaml:"runtime"`
	Log     Log     `yaml:"log"`

	// file is where the config was read from; problems are reported
	// relative to it.
	file string
	// positions are where the keys present in file are, by key path:
	// problems found only when the gateway starts are reported where they
	// are configured, as the loader's are.
	positions map[string]position
}

// position is a line and column in the config file, 1-based.
type position struct{ line, col int }

// Listen says where the gateway listens. An empty address disables that
// listener.
type Listen struct {
	HTTPS string `yaml:"https"` // default ":8443"
	HTTP  string `yaml:"http"`  // default ":8080"
	Ops   string `yaml:"ops"`   // default "127.0.0.1:9090"
}

// TLS chooses how the https listener gets its certificate.
type TLS struct {
	Mode     string `yaml:"mode"` // acme | files | self_signed (default) | off
	ACME     ACME   `yaml:"acme"`
	CertFile string `yaml:"cert_file"` // mode files
	KeyFile  string `yaml:"key_file"`  // mode files
	// HSTS is the Strict-Transport-Security value sent on https answers.
	// Default "max-age=31536000"; "" disables.
	HSTS *string `yaml:"hsts"`
}

// ACME configures autocert.
type ACME struct {
	Email string `yaml:"email"`
	// Hosts are the names certificates may be requested for. Empty: every
	// exact host named in routes. Never open to any SNI name.
	Hosts        []string `yaml:"hosts"`
	DirectoryURL string   `yaml:"directory_url"` // default Let's Encrypt production
	CAFile       string   `yaml:"ca_file"`       // extra roots for the directory (Pebble in tests)
	// Cache is a directory, or "database" to share certificates between
	// instances through the configured database. Default certs/acme.
	Cache string `yaml:"cache"`
}

// Limits bound what one client can make the gateway hold. Zero means the
// default given on each field. (An extension of DESIGN.md.)
type Limits struct {
	ReadHeaderTimeout conf.Duration `yaml:"read_header_timeout"` // default 10s: slow-loris clients are cut off
	IdleTimeout       conf.Duration `yaml:"idle_timeout"`        // default 120s for idle keep-alive connections
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`    // default 65536 (64 KiB) of request line + headers
	ShutdownTimeout   conf.Duration `yaml:"shutdown_timeout"`    // default 30s to drain in-flight requests on SIGTERM
	// ShutdownDelay is how long, after SIGTERM, the gateway keeps serving
	// every listener while /readyz already answers 503, before it stops
	// accepting connections: a load balancer that health-checks /readyz
	// takes the instance out of rotation first, so no request meets a
	// closed port. Default 0 (stop accepting at once); behind a load
	// balancer set it to a little more than its check interval.
	ShutdownDelay conf.Duration `yaml:"shutdown_delay"`
	// MaxConcurrentStreams caps HTTP/2 streams per connection. Default 250.
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// ParkIdleAfter is how long an HTTP/1.1 keep-alive connection waits
	// for its next request with a goroutine and buffers of its own; after
	// that it is parked (park.go) and costs a few KiB until a request
	// arrives. Default 1s; 0s keeps every connection with the HTTP server.
	ParkIdleAfter conf.Duration `yaml:"park_idle_after"`
}

// Runtime tunes the Go runtime. Environment variables GOGC and GOMEMLIMIT,
// when set, win over these keys. (An extension of DESIGN.md.)
type Runtime struct {
	// GOGC is the garbage collector's target percentage. Default 400: the
	// proxy's garbage is short-lived, so collecting less often buys
	// throughput for a little memory (bounded by MemoryLimit).
	GOGC int `yaml:"gogc"`
	// MemoryLimit is the soft memory limit (GOMEMLIMIT), in bytes or with a
	// unit: "512MiB", "1GiB". Default "512MiB".
	MemoryLimit string `yaml:"memory_limit"`
	// ReleaseMemoryAfter: once requests stop for this long, the gateway
	// collects garbage and returns free memory to the operating system
	// (runtime.go). Default 10s; 0s leaves it to the Go runtime.
	ReleaseMemoryAfter conf.Duration `yaml:"release_memory_after"`
}

// Log configures logging. Logs are JSON lines on stderr. (An extension of
// DESIGN.md.)
type Log struct {
	Level string `yaml:"level"` // debug | info (default) | warn | error
	// Access turns the per-request access log on (default) or off. Use
	// access: false only when a load balancer already logs every request.
	Access *bool `yaml:"access"`
}

// ForwardAuth is the forward_auth section: where a browser that fails a
// check is sent to sign in, and where the login page may send it back.
type ForwardAuth struct {
	// LoginURL is the absolute http(s) URL of the login page, without a
	// query: a browser navigation without a session is sent there with
	// ?rd=<the original URL>. Default "": the login page under
	// auth_api.prefix on the original request's own scheme and host.
	LoginURL string `yaml:"login_url"`
	// RedirectHosts are the hosts an absolute rd may name (exact names, or
	// "*.example.com" for one label). Default: every host of the routes
	// with upstream: none.
	RedirectHosts []string `yaml:"redirect_hosts"`
}

// UpstreamNone is the upstream of a route that exists for forward-auth
// checks only: the ingress proxies, authgate answers {prefix}/verify.
const UpstreamNone = "none"

// Route is one entry under routes: which requests it matches and what they
// need before they reach the upstream.
type Route struct {
	Name     string   `yaml:"name"`    // unique; default derived from hosts and path
	Hosts    []string `yaml:"hosts"`   // exact names or "*.example.com"; empty = any host
	Path     string   `yaml:"path"`    // prefix, matched on whole segments of the cleaned path
	Methods  []string `yaml:"methods"` // empty = any method
	Auth     string   `yaml:"auth"`    // public | required
	Roles    []string `yaml:"roles"`   // the user needs one of them; implies auth: required
	Upstream string   `yaml:"upstream"`
	// StripPrefix removes Path from the request path before proxying.
	StripPrefix bool `yaml:"strip_prefix"`
	// LoginRedirect sends browsers without a session to the login page
	// instead of answering 401. Default true.
	LoginRedirect *bool `yaml:"login_redirect"`
	// ForwardToken passes the Authorization header and the gateway's
	// cookies on to the upstream. Default false: they are removed.
	ForwardToken bool `yaml:"forward_token"`
	// Upgrades are the protocols a client may switch this route's
	// connection to with "Upgrade:" (RFC 9110 §7.8), lower case. Default
	// [websocket]. A request asking for anything else is refused (400)
	// before it reaches the upstream: after a 101 the gateway only
	// copies bytes, so another protocol (h2c above all) would carry
	// requests no route, token or header rule ever sees.
	Upgrades []string `yaml:"upgrades"`
	// OAuthResource is the route's URL as an OAuth 2.0 protected resource
	// (RFC 9728), e.g. "https://api.example.com/mcp": the gateway serves
	// its metadata document at /.well-known/oauth-protected-resource/mcp
	// on that host and points its 401s there, so an OAuth-aware client
	// (MCP) finds authgate's provider. Needs oauth2.enabled. (An extension
	// of DESIGN.md.)
	OAuthResource string `yaml:"oauth_resource"`
}

// Dir is the directory of the config file; relative paths in the config
// are resolved against it, and self-signed certificates are kept under its
// certs/ directory.
func (c *Config) Dir() string {
	if c.file == "" {
		return "."
	}
	return filepath.Dir(c.file)
}

// DataDir is where files that belong with the database are kept (the
// generated HS256 secret): beside the SQLite file, or data/ next to the
// config when the database is PostgreSQL.
func (c *Config) DataDir() string {
	if p, ok := strings.CutPrefix(c.Database.URL, "sqlite:"); ok {
		return filepath.Dir(strings.TrimPrefix(p, "//"))
	}
	return filepath.Join(c.Dir(), "data")
}
