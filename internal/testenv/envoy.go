package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Debian packages no Envoy, and the project may not download one, so
// Envoy configs are checked against Envoy's API instead of by Envoy itself:
// envoyvalidate/ (a module of its own, to keep go-control-plane and gRPC
// out of authgate's go.mod) parses them into go-control-plane's bootstrap
// message and runs every validation rule of Envoy's protos.

type envoyValidateBuild struct {
	once sync.Once
	bin  string
	err  error
}

func (b *envoyValidateBuild) build() {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		b.err = fmt.Errorf("cannot find internal/testenv's source")
		return
	}
	dir, err := os.MkdirTemp("", "authgate-envoyvalidate-")
	if err != nil {
		b.err = err
		return
	}
	b.bin = filepath.Join(dir, "envoyvalidate")
	cmd := exec.Command("go", "build", "-o", b.bin, ".")
	cmd.Dir = filepath.Join(filepath.Dir(self), "envoyvalidate")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.err = fmt.Errorf("build %s: %v\n%s", cmd.Dir, err, out)
	}
}

var envoyValidate envoyValidateBuild

// ValidateEnvoyConfig checks Envoy bootstrap files against Envoy's API
// (go-control-plane): unknown fields, unknown or invalid typed_config,
// broken validation rules and deprecated fields are problems. It returns
// the problems found and whether there were none. The checker is built
// once per test process; without a module proxy the test is skipped,
// loudly; under CI=true it fails.
func ValidateEnvoyConfig(t testing.TB, files ...string) (problems string, ok bool) {
	t.Helper()
	envoyValidate.once.Do(envoyValidate.build)
	if envoyValidate.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(envoyValidate.err)
		}
		t.Skipf("!!! cannot build the Envoy config checker (%v): test skipped", envoyValidate.err)
	}
	out, err := exec.Command(envoyValidate.bin, files...).CombinedOutput()
	return string(out), err == nil
}
