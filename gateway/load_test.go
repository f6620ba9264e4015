package gateway

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conf"
)

// envMap is a LookupEnv over a fixed map.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeConfig writes config.yaml (and .env when dotenv is not "") into a
// fresh directory and returns the config's path.
func writeConfig(t *testing.T, yaml, dotenv string) string {
	t.Helper()
	dir := t.TempDir()
	if dotenv != "" {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const echoRoute = "routes:\n  - path: /\n    upstream: builtin:echo\n"

func TestExpandVars(t *testing.T) {
	env := envMap(map[string]string{"HOST": "app.example.com", "EMPTY": "", "DOLLAR": "${HOST}"})
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "ok-plain", in: "no variables", want: "no variables"},
		{name: "ok-var", in: "${HOST}", want: "app.example.com"},
		{name: "ok-embedded", in: "https://${HOST}/x", want: "https://app.example.com/x"},
		{name: "ok-unset-is-empty", in: "${UNSET}", want: ""},
		{name: "ok-default-unset", in: "${UNSET:-fallback}", want: "fallback"},
		{name: "ok-default-empty", in: "${EMPTY:-fallback}", want: "fallback"},
		{name: "ok-default-set", in: "${HOST:-fallback}", want: "app.example.com"},
		{name: "ok-default-with-colon", in: "${UNSET:-127.0.0.1:9090}", want: "127.0.0.1:9090"},
		{name: "ok-empty-default", in: "${UNSET:-}", want: ""},
		{name: "ok-escape", in: "$${HOST}", want: "${HOST}"},
		{name: "ok-lone-dollar", in: "$2a$12$abc", want: "$2a$12$abc"},
		{name: "ok-no-recursion", in: "${DOLLAR}", want: "${HOST}"},
		{name: "ok-two", in: "${HOST}:${UNSET:-80}", want: "app.example.com:80"},
		{name: "fail-unterminated", in: "${HOST", wantErr: true},
		{name: "fail-bad-name", in: "${1X}", wantErr: true},
		{name: "fail-empty-name", in: "${}", wantErr: true},
		{name: "fail-shell-syntax", in: "${HOST:=x}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expandVars(tt.in, env)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("expandVars(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestLoadExpandsAfterParsing checks that a variable's value is data: YAML
// syntax in it does not become structure.
func TestLoadExpandsAfterParsing(t *testing.T) {
	p := writeConfig(t, "tokens:\n  issuer: ${ISSUER}\n"+echoRoute, "")
	c, err := Loader{LookupEnv: envMap(map[string]string{"ISSUER": "x\naudience: evil\nsecret: y"})}.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Tokens.Issuer, "x\naudience: evil\nsecret: y"; got != want {
		t.Errorf("issuer = %q; want %q", got, want)
	}
	if c.Tokens.Audience != "authgate" || c.Tokens.Secret != "" {
		t.Errorf("audience, secret = %q, %q; want the defaults: the variable must not add keys", c.Tokens.Audience, c.Tokens.Secret)
	}
}

func TestLoadExpandedTypes(t *testing.T) {
	yaml := `accounts:
  bcrypt_cost: ${COST}
tokens:
  issuer: ${LITERAL_NULL}
  access_ttl: ${TTL:-10m}
` + echoRoute + `    login_redirect: ${REDIRECT}
`
	env := envMap(map[string]string{"COST": "13", "LITERAL_NULL": "null", "REDIRECT": "false"})
	c, err := Loader{LookupEnv: env}.Load(writeConfig(t, yaml, ""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Accounts.BcryptCost != 13 {
		t.Errorf("bcrypt_cost = %d; want 13 from ${COST}", c.Accounts.BcryptCost)
	}
	if c.Tokens.Issuer != "null" {
		t.Errorf("issuer = %q; want the string \"null\"", c.Tokens.Issuer)
	}
	if c.Tokens.AccessTTL.D() != 10*time.Minute {
		t.Errorf("access_ttl = %s; want the default of the reference, 10m", c.Tokens.AccessTTL)
	}
	if *c.Routes[0].LoginRedirect {
		t.Errorf("login_redirect = true; want false from ${REDIRECT}")
	}
}

func TestDotenv(t *testing.T) {
	dotenv := `# comment
SECRET_A=from-dotenv-a
export SECRET_B = "quoted # not a comment \"q\""
SECRET_C='single $x' # trailing comment
SET_IN_ENV=from-dotenv
EMPTY_IN_ENV=from-dotenv
UNQUOTED=value # comment
`
	yaml := `tokens:
  issuer: ${SECRET_A}
  audience: ${SECRET_B}
  secret: ${SECRET_C}
identity_headers:
  user_id: X-${SET_IN_ENV}
  username: X-A${EMPTY_IN_ENV}
  email: X-${UNQUOTED}
` + echoRoute
	env := envMap(map[string]string{"SET_IN_ENV": "Env", "EMPTY_IN_ENV": ""})
	p := writeConfig(t, yaml, dotenv)
	c, err := Loader{LookupEnv: env}.Load(p)
	if err == nil {
		t.Fatal("Load succeeded; want the short secret refused")
	}
	if !strings.Contains(err.Error(), "tokens.secret: is 9 bytes") {
		t.Fatalf("Load error = %v; want the 9-byte secret from .env's single-quoted value reported", err)
	}

	// Same files with a valid secret, to look at the values.
	dotenv = strings.Replace(dotenv, "'single $x'", "'0123456789abcdefghijklmnopqrstuvwxyz'", 1)
	p = writeConfig(t, yaml, dotenv)
	c, err = Loader{LookupEnv: env}.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"unquoted", c.Tokens.Issuer, "from-dotenv-a"},
		{"export and double quotes", c.Tokens.Audience, `quoted # not a comment "q"`},
		{"environment wins", c.Upstream.IdentityHeaders.UserID, "X-Env"},
		{"empty environment value still wins", c.Upstream.IdentityHeaders.Username, "X-A"},
		{"comment stripped", c.Upstream.IdentityHeaders.Email, "X-value"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %q; want %q", ch.name, ch.got, ch.want)
		}
	}
	if _, set := os.LookupEnv("SECRET_A"); set {
		t.Errorf("SECRET_A is in the process environment; Load must not change it")
	}
}

func TestDotenvErrors(t *testing.T) {
	p := writeConfig(t, echoRoute, "GOOD=1\nthis line is wrong\nQ=\"open\n")
	_, err := Loader{LookupEnv: envMap(nil)}.Load(p)
	dotenv := filepath.Join(filepath.Dir(p), ".env")
	want := dotenv + ":2:1: expected KEY=VALUE with KEY made of letters, digits and _\n" +
		dotenv + ":3:1: Q: unterminated double quote"
	if err == nil || err.Error() != want {
		t.Errorf("Load error = %v; want\n%s", err, want)
	}
}

// TestDefaultsAbsentVersusEmpty checks the keys where "" means "off": only
// an absent key gets the default.
func TestDefaultsAbsentVersusEmpty(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(c *Config) (got, want string)
	}{
		{"ok-https-absent", "", func(c *Config) (string, string) { return c.Listen.HTTPS, ":8443" }},
		{"ok-http-absent", "", func(c *Config) (string, string) { return c.Listen.HTTP, ":8080" }},
		{"ok-ops-absent", "", func(c *Config) (string, string) { return c.Listen.Ops, "127.0.0.1:9090" }},
		{"ok-ops-empty", "listen:\n  ops: \"\"\n", func(c *Config) (string, string) { return c.Listen.Ops, "" }},
		{"ok-ops-null", "listen:\n  ops:\n", func(c *Config) (string, string) { return c.Listen.Ops, "" }},
		{"ok-ops-unset-var", "listen:\n  ops: ${UNSET}\n", func(c *Config) (string, string) { return c.Listen.Ops, "" }},
		{"ok-listen-empty-mapping", "listen: {}\n", func(c *Config) (string, string) { return c.Listen.Ops, "127.0.0.1:9090" }},
		{"ok-hsts-absent", "", func(c *Config) (string, string) { return *c.TLS.HSTS, "max-age=31536000" }},
		{"ok-hsts-empty", "tls:\n  hsts: \"\"\n", func(c *Config) (string, string) { return *c.TLS.HSTS, "" }},
		{"ok-hsts-null", "tls:\n  hsts:\n", func(c *Config) (string, string) { return *c.TLS.HSTS, "" }},
		{"ok-header-absent", "", func(c *Config) (string, string) { return c.Upstream.IdentityHeaders.Email, "X-Auth-Email" }},
		{"ok-header-empty", "identity_headers:\n  email: \"\"\n", func(c *Config) (string, string) { return c.Upstream.IdentityHeaders.Email, "" }},
		{"ok-header-other-kept", "identity_headers:\n  email: \"\"\n", func(c *Config) (string, string) { return c.Upstream.IdentityHeaders.Roles, "X-Auth-Roles" }},
		{"ok-assertion-off", "", func(c *Config) (string, string) { return c.Upstream.IdentityHeaders.Assertion, "" }},
		{"ok-mode-empty-is-default", "tls:\n  mode: \"\"\n", func(c *Config) (string, string) { return c.TLS.Mode, "self_signed" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Loader{LookupEnv: envMap(nil)}.Load(writeConfig(t, tt.yaml+echoRoute, ""))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tt.check(c); got != want {
				t.Errorf("got %q; want %q", got, want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	yaml := `upstreams:
  users:
    targets: [http://10.0.0.5:8080]
routes:
  - hosts: [App.Example.COM.]
    path: /api
    methods: [get, Post]
    upstream: users
  - upstream: builtin:echo
`
	c, err := Loader{LookupEnv: envMap(nil)}.Load(writeConfig(t, yaml, ""))
	if err != nil {
		t.Fatal(err)
	}
	a, pool := c, c.Upstream.Upstreams["users"]
	checks := []struct {
		name      string
		got, want any
	}{
		{"tls.mode", c.TLS.Mode, "self_signed"},
		{"tls.acme.directory_url", c.TLS.ACME.DirectoryURL, "https://acme-v02.api.letsencrypt.org/directory"},
		{"redis.on_error", a.Redis.OnError, "deny"},
		{"redis.key_prefix", a.Redis.KeyPrefix, "authgate:"},
		{"tokens.issuer", a.Tokens.Issuer, "authgate"},
		{"tokens.audience", a.Tokens.Audience, "authgate"},
		{"tokens.algorithm", a.Tokens.Algorithm, "HS256"},
		{"tokens.access_ttl", a.Tokens.AccessTTL, conf.Duration(15 * time.Minute)},
		{"tokens.refresh_ttl", a.Tokens.RefreshTTL, conf.Duration(168 * time.Hour)},
		{"accounts.registration", a.Accounts.Registration, "closed"},
		{"accounts.bcrypt_cost", a.Accounts.BcryptCost, 12},
		{"accounts.min_password_length", a.Accounts.MinPasswordLength, 8},
		{"auth_api.prefix", a.AuthAPI.Prefix, "/auth"},
		{"auth_api.cookie_name", a.AuthAPI.CookieName, "authgate"},
		{"auth_api.login_limit", a.AuthAPI.LoginLimit, "5/min"},
		{"auth_api.register_limit", a.AuthAPI.RegisterLimit, "10/hour"},
		{"pool balance", pool.Balance, "round_robin"},
		{"pool timeout", pool.Timeout, conf.Duration(30 * time.Second)},
		{"pool dial_timeout", pool.DialTimeout, conf.Duration(5 * time.Second)},
		{"pool max_idle_conns_per_target", pool.MaxIdleConnsPerTarget, 256},
		{"pool health interval", pool.HealthCheck.Interval, conf.Duration(10 * time.Second)},
		{"pool health timeout", pool.HealthCheck.Timeout, conf.Duration(2 * time.Second)},
		{"route host lower-cased", c.Routes[0].Hosts[0], "app.example.com"},
		{"route methods upper-cased", strings.Join(c.Routes[0].Methods, ","), "GET,POST"},
		{"route name derived", c.Routes[0].Name, "GET,POST app.example.com/api"},
		{"route auth fails closed", c.Routes[0].Auth, "required"},
		{"route login_redirect", *c.Routes[0].LoginRedirect, true},
		{"route path default", c.Routes[1].Path, "/"},
		{"route name without host", c.Routes[1].Name, "/"},
		{"route upgrades only websocket", strings.Join(c.Routes[0].Upgrades, ","), "websocket"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v; want %v", ch.name, ch.got, ch.want)
		}
	}
}

// TestRelativeFiles checks that file names resolve against the config
// file's directory, not the working directory.
func TestRelativeFiles(t *testing.T) {
	dir := configDir(t)
	yaml := `tls:
  mode: files
  cert_file: certs/tls.crt
  key_file: /abs/tls.key
  acme:
    cache: acme-cache
database:
  url: sqlite:data/x.db
tokens:
  algorithm: ES256
  private_key_file: keys/ec.pem
  verify_keys: [keys/ec.pem, https://example.com/jwks.json]
` + echoRoute
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Loader{LookupEnv: envMap(nil)}.Load(p)
	if err == nil || !strings.Contains(err.Error(), "file /abs/tls.key does not exist") {
		t.Fatalf("Load error = %v; want only the absolute key_file missing", err)
	}
	if strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("Load error = %v; want one problem (relative files found beside the config)", err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(yaml, "/abs/tls.key", "certs/tls.key", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = (Loader{LookupEnv: envMap(nil)}).Load(p); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"cert_file", c.TLS.CertFile, filepath.Join(dir, "certs/tls.crt")},
		{"acme cache", c.TLS.ACME.Cache, filepath.Join(dir, "acme-cache")},
		{"database", c.Database.URL, "sqlite:" + filepath.Join(dir, "data/x.db")},
		{"private key", c.Tokens.PrivateKeyFile, filepath.Join(dir, "keys/ec.pem")},
		{"verify key file", c.Tokens.VerifyKeys[0], filepath.Join(dir, "keys/ec.pem")},
		{"verify key URL", c.Tokens.VerifyKeys[1], "https://example.com/jwks.json"},
		{"File()", c.File(), p},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q; want %q", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadErrorsAreConfigErrors(t *testing.T) {
	p := writeConfig(t, "tls:\n  mode: nope\nroutes:\n  - path: /\n    upstream: billing\n", "")
	_, err := Loader{LookupEnv: envMap(nil)}.Load(p)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Load error %v is not a *ConfigError", err)
	}
	if ce.File != p || ce.Line != 2 || ce.Col != 3 || ce.Path != "tls.mode" {
		t.Errorf("first problem = %+v; want %s line 2 col 3 at tls.mode", ce, p)
	}
	if n := len(conf.Unjoin(err)); n != 2 {
		t.Errorf("Load reported %d problems; want 2: %v", n, err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v; want an error wrapping os.ErrNotExist", err)
	}
}

func TestLoadSecondDocument(t *testing.T) {
	_, err := Loader{LookupEnv: envMap(nil)}.Parse("config.yaml", []byte(echoRoute+"---\nlisten: {}\n"))
	if err == nil || err.Error() != "config.yaml:4:1: a second YAML document: the config is one document" {
		t.Errorf("Parse = %v; want the second document refused", err)
	}
}

func TestLoadAliases(t *testing.T) {
	yaml := `upstreams:
  users: &pool
    targets: ["${TARGET}"]
  users2: *pool
routes:
  - path: /
    upstream: users
  - path: /two
    upstream: users2
`
	c, err := Loader{LookupEnv: envMap(map[string]string{"TARGET": "http://10.0.0.5:8080"})}.Parse("config.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Upstream.Upstreams["users2"].Targets[0]; got != "http://10.0.0.5:8080" {
		t.Errorf("users2 target = %q; want the expanded value, expanded once", got)
	}
}

func TestWellKnownSecretsRefused(t *testing.T) {
	tests := []struct{ secret, want string }{
		{"your-256-bit-secret", "well-known"},
		{"a-string-secret-at-least-256-bits-long", "well-known"},
		{"SECRET", "well-known"},
		{strings.Repeat("x", 40), "not a random secret"},
	}
	for _, tt := range tests {
		s := tt.secret
		yaml := "tokens:\n  secret: \"" + s + "\"\n" + echoRoute
		_, err := Loader{LookupEnv: envMap(nil)}.Parse("config.yaml", []byte(yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("secret %q: Load error = %v; want it refused (%s)", s, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("secret %q: the error repeats the secret: %v", s, err)
		}
	}
}

func TestLoadAliasBomb(t *testing.T) {
	// 400 aliases of a route whose hosts are 400 names: 160,000 values
	// from a file of a few kilobytes.
	var b strings.Builder
	b.WriteString("x-hosts: &h [h0.example.com")
	for i := 1; i < 400; i++ {
		fmt.Fprintf(&b, ", h%d.example.com", i)
	}
	b.WriteString("]\nroutes:\n  - &r {path: /, hosts: *h, upstream: builtin:echo}\n")
	for range 399 {
		b.WriteString("  - *r\n")
	}
	_, err := Loader{LookupEnv: envMap(nil)}.Parse("config.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases nested too deep") {
		t.Errorf("Parse(alias bomb) = %.300v; want it stopped", err)
	}
}
