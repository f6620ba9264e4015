package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"
)

// CaddyVersion is the Caddy the forward-auth tests run as an ingress. It
// is built from the Go module proxy into a temporary GOBIN and never
// enters authgate's go.mod.
const CaddyVersion = "v2.11.9"

var caddy = GoTool{Install: "github.com/caddyserver/caddy/v2/cmd/caddy@" + CaddyVersion}

// BuildCaddy builds Caddy once per test process and returns the binary
// (see GoTool).
func BuildCaddy(t testing.TB) string {
	t.Helper()
	return caddy.Binary(t)
}

// CaddyCommand returns a command running Caddy with args, its home,
// data and config directories in a temporary directory of the test's, so
// that it reads and writes nothing of the user's.
func CaddyCommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	bin := BuildCaddy(t)
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	return cmd
}

// Caddy is a running Caddy on 127.0.0.1.
type Caddy struct {
	Port   int
	Addr   string // 127.0.0.1:Port
	Prefix string // its temporary directory, with the Caddyfile it runs
	log    *processLog
}

// Log returns the end of Caddy's log.
func (c *Caddy) Log() string { return c.log.tail(16 << 10) }

// caddyGlobal is the global options block StartCaddy puts before the
// test's sites: no admin endpoint, nothing saved between runs, and every
// site on the listening socket StartCaddy hands Caddy as file descriptor 3,
// over TCP only (HTTP/3's QUIC cannot use a TCP socket: an https site
// would otherwise fail to start).
const caddyGlobal = `# written by testenv.StartCaddy
{
	admin off
	persist_config off
	storage file_system {{.Prefix}}/data
	default_bind fd/3
	servers {
		protocols h1 h2
	}
}

`

// StartCaddy runs Caddy with a Caddyfile made of site blocks: tmpl is a
// text/template executed with ConfigVars{Port, Prefix, Data: data}, and
// must not have a global options block (StartCaddy writes one). Sites name
// the port in their address, e.g. "http://app.example.com:{{.Port}}", and
// no bind directive of their own.
//
// Caddy sets SO_REUSEPORT on its listeners, so a port picked free and then
// taken by another Caddy (a parallel test) would be shared silently rather
// than fail to bind: StartCaddy binds the port itself and passes the
// listening socket to Caddy (default_bind fd/3, Caddy's socket
// activation). No race, no retry. StartCaddy returns once Caddy serves, and
// stops it when the test ends.
func StartCaddy(t testing.TB, tmpl string, data any) *Caddy {
	t.Helper()
	sites, err := template.New("Caddyfile").Option("missingkey=error").Parse(caddyGlobal + tmpl)
	if err != nil {
		t.Fatalf("StartCaddy: Caddyfile template: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() // Caddy has its own copy
	sock, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	c := &Caddy{Port: l.Addr().(*net.TCPAddr).Port, Addr: l.Addr().String(), Prefix: t.TempDir()}
	conf := filepath.Join(c.Prefix, "Caddyfile")
	if err := writeTemplate(conf, sites, ConfigVars{Port: c.Port, Prefix: c.Prefix, Data: data}); err != nil {
		t.Fatalf("StartCaddy: %v", err)
	}
	cmd := CaddyCommand(t, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.ExtraFiles = []*os.File{sock} // fd 3
	p, err := startServerProcess("caddy", cmd)
	if err != nil {
		t.Fatal(err)
	}
	c.log = p.log
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("caddy (%s) printed, ending:\n%s", c.Addr, c.Log())
		}
	})
	// Caddy logs this once its config is loaded and it serves the socket.
	err = p.waitUntil(30*time.Second, func() bool {
		return strings.Contains(p.log.tail(64<<10), "serving initial configuration")
	})
	if err != nil {
		t.Fatalf("caddy: %v; its output ends:\n%s", err, c.Log())
	}
	return c
}
