package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A GoTool is a program the tests run beside authgate (Pebble, Caddy,
// oauth2-proxy, the Envoy config checker), built with the go command once
// per test process and never part of authgate's go.mod: either
// `go install Install` (a package@version from the module proxy) or
// `go build` in Dir (a module of its own under testdata). The Go build
// cache makes every later process quick.
//
// Without a module proxy a test that needs the tool is skipped, loudly;
// under CI=true it fails.
type GoTool struct {
	Install string // "module/path/cmd/name@version"; or
	Dir     string // a module directory, built with `go build`

	once sync.Once
	bin  string
	err  error
}

// Binary builds the tool on first use and returns its path.
func (g *GoTool) Binary(t testing.TB) string {
	t.Helper()
	g.once.Do(g.build)
	if g.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(g.err)
		}
		t.Skipf("!!! cannot build %s (%v): test skipped", g.name(), g.err)
	}
	return g.bin
}

func (g *GoTool) name() string {
	if g.Install != "" {
		// go install names the binary after the package path's last
		// element, skipping a major-version suffix (.../oauth2-proxy/v7).
		pkg, _, _ := strings.Cut(g.Install, "@")
		name := path.Base(pkg)
		if isMajorVersion(name) {
			name = path.Base(path.Dir(pkg))
		}
		return name
	}
	return filepath.Base(g.Dir)
}

func (g *GoTool) build() {
	dir, err := os.MkdirTemp("", "authgate-"+g.name()+"-")
	if err != nil {
		g.err = err
		return
	}
	g.bin = filepath.Join(dir, g.name())
	var cmd *exec.Cmd
	if g.Install != "" {
		cmd = exec.Command("go", "install", g.Install)
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
	} else {
		cmd = exec.Command("go", "build", "-o", g.bin, ".")
		cmd.Dir = g.Dir
		cmd.Env = os.Environ()
	}
	// GOFLAGS=-mod=mod and GOWORK=off: the tool's module is its own; a
	// -mod=vendor or a go.work from the environment would stop the build.
	cmd.Env = append(cmd.Env, "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		g.err = fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

func isMajorVersion(elem string) bool {
	if len(elem) < 2 || elem[0] != 'v' {
		return false
	}
	for _, c := range elem[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
