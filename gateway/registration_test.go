package gateway

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// registrationGateway writes a plain-HTTP gateway config with accounts
// (YAML under accounts:, indented two spaces; registration at its
// default unless it says otherwise) and routes (YAML list items).
func registrationGateway(t *testing.T, accounts, routes string) (g *testGateway, cfgFile string) {
	t.Helper()
	g = newTestGateway(t)
	g.plain = true
	g.accounts = "  bcrypt_cost: 10\n" + accounts
	return g, g.write("routes:\n" + routes)
}

// TestRegistrationClosedByDefault: without accounts.registration nobody
// can sign themselves up — auth: required must not mean "anyone who can
// POST /auth/register" unless the operator says so.
func TestRegistrationClosedByDefault(t *testing.T) {
	g, cfgFile := registrationGateway(t, "", "  - path: /\n    upstream: builtin:echo\n")
	c, err := Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Accounts.Registration; got != "closed" {
		t.Errorf("accounts.registration default = %q; want closed", got)
	}
	g.run(cfgFile)
	status, _, body := callAuthAPI(t, http.DefaultClient, http.MethodPost, "http://"+g.httpAddr()+"/auth/register",
		map[string]string{"username": "mallory", "email": "mallory@example.com", "password": "a long enough passphrase"}, nil)
	if status != http.StatusForbidden {
		t.Errorf("POST /auth/register with the default config = %d %v; want 403", status, body)
	}
}

// TestRegistrationOpenWarning: open registration in front of a route that
// needs only a login is legal but worth a second look; `authgate check`
// and the startup log say so.
func TestRegistrationOpenWarning(t *testing.T) {
	const (
		loginOnly = "  - name: app\n    path: /\n    upstream: builtin:echo\n"
		withRoles = "  - name: admin\n    path: /\n    roles: [admin]\n    upstream: builtin:echo\n"
		public    = "  - name: pub\n    path: /\n    auth: public\n    upstream: builtin:echo\n"
	)
	tests := []struct {
		name, accounts, routes string
		want                   string // "" = no warning
	}{
		{"ok-warn-open-login-only", "  registration: open\n", loginOnly, `routes "app"`},
		{"ok-warn-names-every-route", "  registration: open\n",
			withRoles + "  - name: docs\n    path: /docs\n    upstream: builtin:echo\n" + "  - name: api\n    path: /api\n    upstream: builtin:echo\n",
			`routes "docs", "api"`},
		{"ok-quiet-open-roles", "  registration: open\n", withRoles, ""},
		{"ok-quiet-open-public", "  registration: open\n", public, ""},
		{"ok-quiet-closed", "  registration: closed\n", loginOnly, ""},
		{"ok-quiet-default", "", loginOnly, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cfgFile := registrationGateway(t, tt.accounts, tt.routes)
			c, err := Load(cfgFile)
			if err != nil {
				t.Fatal(err)
			}
			warnings := c.Warnings()
			var out bytes.Buffer
			if err := Check(&out, cfgFile); err != nil {
				t.Fatalf("Check = %v", err)
			}
			if tt.want == "" {
				if len(warnings) != 0 || strings.Contains(out.String(), "warning") {
					t.Errorf("Warnings() = %q, check printed %q; want no warning", warnings, out.String())
				}
				return
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], tt.want) || !strings.Contains(warnings[0], "accounts.registration") {
				t.Fatalf("Warnings() = %q; want one naming accounts.registration and %s", warnings, tt.want)
			}
			if !strings.Contains(out.String(), "warning: "+warnings[0]) {
				t.Errorf("check printed %q; want the warning", out.String())
			}
		})
	}

	t.Run("ok-startup-log", func(t *testing.T) {
		g, cfgFile := registrationGateway(t, "  registration: open\n", loginOnly)
		var log logBuffer
		g.logTo = &log
		g.run(cfgFile)
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, "accounts.registration") {
				return
			}
		}
		t.Errorf("startup log has no warning about open registration:\n%s", log.String())
	})
}
