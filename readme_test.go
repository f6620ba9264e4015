package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReadmeTour runs the README's five-minute tour as written — the
// committed config.yaml, `authgate` with no flags, then every command of the
// tour's shell block — so the tour cannot drift from what the binary does.
// Only the ports are changed: the listeners bind port 0, because the test
// suite runs in parallel with other servers, and the tour is pointed at
// the port the gateway's "listeners" log line says it got.
func TestReadmeTour(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("!!! %s not installed: README tour not checked", tool)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	script := tourScript(t, string(readme))

	dir := t.TempDir()
	bin := filepath.Join(dir, "authgate")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgText := strings.NewReplacer(
		`":8443"`, `":0"`,
		`":8080"`, `":0"`,
		`"127.0.0.1:9090"`, `"127.0.0.1:0"`,
	).Replace(string(cfg))
	if cfgText == string(cfg) {
		t.Fatal("config.yaml no longer names the default ports the test replaces")
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := exec.CommandContext(ctx, bin)
	srv.Dir = dir
	srv.Env = append(os.Environ(), "AUTHGATE_SECRET_KEY=")
	logs := &syncBuffer{}
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { srv.Wait(); close(exited) }()
	defer func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	}()
	// The listeners line comes once they are bound; connections made from
	// then on wait until the gateway serves.
	var https string
	deadline := time.After(30 * time.Second)
	for https == "" {
		select {
		case <-exited:
			t.Fatalf("gateway exited before it listened:\n%s", logs.String())
		case <-deadline:
			t.Fatalf("gateway did not log its listeners within 30 s:\n%s", logs.String())
		case <-time.After(50 * time.Millisecond): // poll interval
		}
		https = loggedPort(logs.String(), "https")
	}

	script = strings.ReplaceAll(script, "localhost:8443", "localhost:"+https)
	sh := exec.Command("bash", "-euo", "pipefail", "-c", script)
	sh.Dir = dir
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("tour failed: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		`"detail":"Not authenticated"`,        // no token: 401
		`"username":"alice"`,                  // registered
		`"X-Auth-User": [`,                    // the echo shows identity headers
		`"alice"`,                             //
		`"message":"Successfully logged out"`, // logout
		`error="invalid_token"`,               // the token is dead at once
	} {
		if !strings.Contains(got, want) {
			t.Errorf("tour output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"Authorization"`) {
		t.Errorf("the echo upstream received the Authorization header:\n%s", got)
	}
}

// tourScript returns the shell block of the README's tour section.
func tourScript(t *testing.T, readme string) string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "## A five-minute tour")
	if !ok {
		t.Fatal("README has no \"A five-minute tour\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("the tour section has no sh block")
	}
	return m[1]
}

// loggedPort returns the port of listener name from the "listeners" line
// of a JSON log, or "" when there is none yet.
func loggedPort(log, name string) string {
	for line := range strings.SplitSeq(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "listeners" {
			continue
		}
		v, _ := m[name].(string)
		addr, _, _ := strings.Cut(v, " ")
		if _, port, err := net.SplitHostPort(addr); err == nil {
			return port
		}
	}
	return ""
}

// syncBuffer is a bytes.Buffer that the process's output goroutine and the
// test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
