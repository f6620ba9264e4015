package upstream

import (
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conf"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{name: "ok-http", in: "http://10.0.0.5:8080"},
		{name: "ok-https-path", in: "https://billing.internal/base"},
		{name: "ok-ipv6", in: "http://[::1]:3000"},
		{name: "fail-scheme", in: "ftp://x"},
		{name: "fail-relative", in: "10.0.0.5:8080"},
		{name: "fail-no-host", in: "http:///x"},
		{name: "fail-empty-host-with-port", in: "http://:8080"},
		{name: "fail-userinfo", in: "http://u:p@x"},
		{name: "fail-query", in: "http://x/?a=1"},
		{name: "fail-empty-query", in: "http://x/?"},
		{name: "fail-fragment", in: "http://x/#f"},
		{name: "fail-port", in: "http://x:99999"},
	}
	for i := range tests {
		tests[i].wantErr = strings.HasPrefix(tests[i].name, "fail-")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseTarget(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseTarget(%q) = %v, %v; want error %v", tt.in, u, err, tt.wantErr)
			}
		})
	}
}

func TestParseTargetHidesPassword(t *testing.T) {
	for _, in := range []string{"http://u:hunter2@x", "http://u:hunter2@x:bad"} {
		_, err := ParseTarget(in)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseTarget(%q) = %v; want an error without the password", in, err)
		}
	}
}

func poolWith(targets ...string) PoolConfig {
	return PoolConfig{
		Targets: targets, Balance: "round_robin",
		Timeout: conf.Duration(30 * time.Second), DialTimeout: conf.Duration(5 * time.Second),
		MaxIdleConnsPerTarget: 256,
		HealthCheck:           HealthCheck{Interval: conf.Duration(10 * time.Second), Timeout: conf.Duration(2 * time.Second)},
	}
}

func TestConfigValidate(t *testing.T) {
	headers := IdentityHeaders{UserID: "X-Auth-User-Id", Username: "X-Auth-User", Email: "X-Auth-Email", Roles: "X-Auth-Roles"}
	tests := []struct {
		name     string
		mutate   func(c *Config)
		wantPath string
	}{
		{name: "ok-defaults", mutate: func(c *Config) {}},
		{name: "ok-headers-off", mutate: func(c *Config) { c.IdentityHeaders = IdentityHeaders{} }},
		{name: "ok-health-path", mutate: func(c *Config) { p := c.Upstreams["users"]; p.HealthCheck.Path = "/healthz"; c.Upstreams["users"] = p }},
		{name: "fail-header-token", mutate: func(c *Config) { c.IdentityHeaders.Roles = "X Roles" }, wantPath: "identity_headers.roles"},
		{name: "fail-header-dup-case", mutate: func(c *Config) { c.IdentityHeaders.Email = "x-auth-user" }, wantPath: "identity_headers.email"},
		{name: "fail-header-dup-underscore", mutate: func(c *Config) { c.IdentityHeaders.Assertion = "X_Auth_Roles" }, wantPath: "identity_headers.assertion"},
		{name: "fail-header-reserved", mutate: func(c *Config) { c.IdentityHeaders.UserID = "Cookie" }, wantPath: "identity_headers.user_id"},
		{name: "fail-no-targets", mutate: func(c *Config) { c.Upstreams["users"] = poolWith() }, wantPath: "upstreams.users.targets"},
		{name: "fail-dup-target", mutate: func(c *Config) { c.Upstreams["users"] = poolWith("http://a:1", "http://a:1") }, wantPath: "upstreams.users.targets[1]"},
		{name: "fail-pool-name", mutate: func(c *Config) { c.Upstreams["a:b"] = poolWith("http://a:1") }, wantPath: "upstreams.a:b"},
		{name: "fail-balance", mutate: func(c *Config) { p := c.Upstreams["users"]; p.Balance = "RoundRobin"; c.Upstreams["users"] = p }, wantPath: "upstreams.users.balance"},
		{name: "fail-idle", mutate: func(c *Config) { p := c.Upstreams["users"]; p.MaxIdleConnsPerTarget = -1; c.Upstreams["users"] = p }, wantPath: "upstreams.users.max_idle_conns_per_target"},
		{name: "fail-timeout", mutate: func(c *Config) { p := c.Upstreams["users"]; p.Timeout = 0; c.Upstreams["users"] = p }, wantPath: "upstreams.users.timeout"},
		{name: "fail-health-path", mutate: func(c *Config) { p := c.Upstreams["users"]; p.HealthCheck.Path = "healthz"; c.Upstreams["users"] = p }, wantPath: "upstreams.users.health_check.path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{IdentityHeaders: headers, Upstreams: map[string]PoolConfig{"users": poolWith("http://10.0.0.5:8080")}}
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantPath+": ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Validate() = %v; want one problem at %s", err, tt.wantPath)
			}
		})
	}
}

// TestIdentityHeadersReservedByTheProxy: a name the proxy sets or manages
// itself is refused by validation, so `authgate check` reports it with its
// line. It used to pass check and fail the start: the header plan had a
// second, longer list of reserved names.
func TestIdentityHeadersReservedByTheProxy(t *testing.T) {
	for _, name := range []string{"X-Request-Id", "X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "x_request_id"} {
		err := (&Config{IdentityHeaders: IdentityHeaders{UserID: name}}).Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "identity_headers.user_id: ") || !strings.Contains(err.Error(), "is reserved") {
			t.Errorf("Validate(user_id: %s) = %v; want it reserved", name, err)
		}
	}
	for _, name := range []string{"X-Forwarded-User", "X-Auth-Request-Id"} {
		if err := (&Config{IdentityHeaders: IdentityHeaders{UserID: name}}).Validate(); err != nil {
			t.Errorf("Validate(user_id: %s) = %v; want it accepted", name, err)
		}
	}
}
