package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// TestReadmeTour runs the README's five-minute tour as written — the
// committed config.yaml, `authgate` with no flags, then every command of the
// tour's shell block — so the tour cannot drift from what the binary does.
// Only the ports are changed (to free ones), because the test suite runs in
// parallel with other servers.
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
	https, http, ops := freePort(t), freePort(t), freePort(t)
	cfgText := strings.NewReplacer(
		`":8443"`, strconv.Quote(":"+https),
		`":8080"`, strconv.Quote(":"+http),
		`"127.0.0.1:9090"`, strconv.Quote("127.0.0.1:"+ops),
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
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		srv.Wait()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+https)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gateway did not listen within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
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

func freePort(t *testing.T) string {
	t.Helper()
	return strconv.Itoa(testenv.FreePort(t))
}
