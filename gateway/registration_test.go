package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

// registrationConfig is a plain-HTTP gateway config on a free port with
// accounts (YAML under accounts:, indented two spaces) and routes (YAML
// list items).
func registrationConfig(t *testing.T, accounts, routes string) (cfgFile, base string) {
	t.Helper()
	dir := t.TempDir()
	port := testenv.FreePort(t)
	cfgFile = writeConfigIn(t, dir, fmt.Sprintf(`listen:
  https: ""
  http: "127.0.0.1:%d"
  ops: ""
tls:
  mode: "off"
database:
  url: sqlite:%s
tokens:
  secret: %s
accounts:
  bcrypt_cost: 10
%sroutes:
%s`, port, filepath.Join(dir, "authgate.db"), testSecret, accounts, routes))
	return cfgFile, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// TestRegistrationClosedByDefault: without accounts.registration nobody
// can sign themselves up — auth: required must not mean "anyone who can
// POST /auth/register" unless the operator says so.
func TestRegistrationClosedByDefault(t *testing.T) {
	cfgFile, base := registrationConfig(t, "", "  - path: /\n    upstream: builtin:echo\n")
	c, err := Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Accounts.Registration; got != "closed" {
		t.Errorf("accounts.registration default = %q; want closed", got)
	}
	startServer(t, cfgFile)
	status, _, body := callAuthAPI(t, http.DefaultClient, http.MethodPost, base+"/auth/register",
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
			cfgFile, _ := registrationConfig(t, tt.accounts, tt.routes)
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
		cfgFile, _ := registrationConfig(t, "  registration: open\n", loginOnly)
		var log logBuffer
		startServerLogging(t, cfgFile, &log)
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, "accounts.registration") {
				return
			}
		}
		t.Errorf("startup log has no warning about open registration:\n%s", log.String())
	})
}
