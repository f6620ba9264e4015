package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

// nginx is run from Debian's package (`nginx`, with the auth_request
// module), as the forward-auth tests' ingress. .ci/run installs it without
// starting the system's nginx; the tests never touch that one.

// NginxBinary returns the nginx executable: $NGINX when set, else nginx
// on PATH or in /usr/sbin (root's PATH has it, a user's often not). Without
// one the test is skipped, loudly; under CI=true it fails.
func NginxBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("NGINX"); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath("nginx"); err == nil {
		return bin
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	msg := "!!! nginx not installed (Debian package nginx; .ci/run installs it): test skipped"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// ConfigVars is what StartNginx and StartCaddy execute a config template
// with.
type ConfigVars struct {
	// Port is the port on 127.0.0.1 to listen on ("listen
	// 127.0.0.1:{{.Port}}", "http://app.example.com:{{.Port}}"), chosen by
	// the Start function.
	Port int
	// Prefix is the server's own temporary directory. Files the config
	// names belong in a directory of the test's, passed in Data.
	Prefix string
	// Data is the caller's: the addresses of the servers behind it, file
	// names.
	Data any
}

// Nginx is a running nginx on 127.0.0.1.
type Nginx struct {
	Port   int
	Addr   string // 127.0.0.1:Port
	Prefix string // its temporary directory: nginx.conf, http.conf, pid, temp files
	log    *processLog
}

// Log returns the end of nginx's error and access log.
func (n *Nginx) Log() string { return n.log.tail(16 << 10) }

// nginxMain is the main context StartNginx writes around the test's
// http{}-level config: everything inside the prefix, logs on stderr.
// master_process off keeps it one process, so that killing it leaves no
// worker behind.
const nginxMain = `# written by testenv.StartNginx
master_process off;
pid {{.Prefix}}/nginx.pid;
error_log stderr notice;
events {
    worker_connections 256;
}
http {
    client_body_temp_path {{.Prefix}}/tmp/body;
    proxy_temp_path       {{.Prefix}}/tmp/proxy;
    fastcgi_temp_path     {{.Prefix}}/tmp/fastcgi;
    uwsgi_temp_path       {{.Prefix}}/tmp/uwsgi;
    scgi_temp_path        {{.Prefix}}/tmp/scgi;
    access_log /dev/stderr;
    include {{.Prefix}}/http.conf;
}
`

// StartNginx runs nginx in the foreground with an http{}-level config: tmpl
// is a text/template executed with ConfigVars{Port, Prefix, Data: data}
// (server blocks, upstreams, maps). StartNginx writes the main context
// around it, picks a free port, and when another process takes that port
// before nginx binds it (nginx cannot listen on port 0 and say which port
// it got), starts again on another. It returns once nginx accepts
// connections on the port, and stops it when the test ends.
func StartNginx(t testing.TB, tmpl string, data any) *Nginx {
	t.Helper()
	return startNginx(t, tmpl, data, nil)
}

// startNginx is StartNginx; beforeStart, when not nil, runs before each
// attempt with the port chosen (a test takes one to see the retry).
func startNginx(t testing.TB, tmpl string, data any, beforeStart func(port int)) *Nginx {
	t.Helper()
	bin := NginxBinary(t)
	http, err := template.New("http.conf").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		t.Fatalf("StartNginx: config template: %v", err)
	}
	main := template.Must(template.New("nginx.conf").Parse(nginxMain))
	prefix := t.TempDir()
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	n := &Nginx{Prefix: prefix}
	n.Port = startOnUnusedPort(t, "nginx", func(port int) (*serverProcess, error) {
		if beforeStart != nil {
			beforeStart(port)
		}
		vars := ConfigVars{Port: port, Prefix: prefix, Data: data}
		if err := writeTemplate(filepath.Join(prefix, "http.conf"), http, vars); err != nil {
			return nil, err
		}
		if err := writeTemplate(filepath.Join(prefix, "nginx.conf"), main, vars); err != nil {
			return nil, err
		}
		pidFile := filepath.Join(prefix, "nginx.pid")
		os.Remove(pidFile) // from an attempt that lost its port
		cmd := exec.Command(bin, "-p", prefix+"/", "-c", filepath.Join(prefix, "nginx.conf"),
			"-e", "stderr", "-g", "daemon off;")
		p, err := startServerProcess("nginx", cmd)
		if err != nil {
			return nil, err
		}
		n.log = p.log
		// nginx writes its pid file after it has bound every listening
		// socket: from then on the port is ours, and connections queue.
		return p, p.waitUntil(30*time.Second, func() bool {
			b, err := os.ReadFile(pidFile)
			return err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(cmd.Process.Pid) && dialable(port)
		})
	})
	n.Addr = "127.0.0.1:" + strconv.Itoa(n.Port)
	return n
}

// NginxTest runs `nginx -t` on the main config file conf, with a
// temporary prefix and pid file, and returns nginx's output and whether
// the test passed. Files conf includes by relative path are looked up
// beside it.
func NginxTest(t testing.TB, conf string) (output string, ok bool) {
	t.Helper()
	bin := NginxBinary(t)
	prefix := t.TempDir()
	cmd := exec.Command(bin, "-t", "-p", prefix+"/", "-c", conf, "-e", "stderr",
		"-g", "pid "+filepath.Join(prefix, "nginx.pid")+";")
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func writeTemplate(name string, tmpl *template.Template, data any) error {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return fmt.Errorf("%s: %w", tmpl.Name(), err)
	}
	return os.WriteFile(name, buf.Bytes(), 0o600)
}
