package testenv

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Debian packages no Envoy, and the project may not download one, so
// Envoy configs are checked against Envoy's API instead of by Envoy itself:
// envoyvalidate/ (a module of its own, to keep go-control-plane and gRPC
// out of authgate's go.mod) parses them into go-control-plane's bootstrap
// message and runs every validation rule of Envoy's protos.

var envoyValidate = GoTool{Dir: func() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "envoyvalidate")
}()}

// ValidateEnvoyConfig checks Envoy bootstrap files against Envoy's API
// (go-control-plane): unknown fields, unknown or invalid typed_config,
// broken validation rules and deprecated fields are problems. It returns
// the problems found and whether there were none. The checker is built
// once per test process; without a module proxy the test is skipped,
// loudly; under CI=true it fails.
func ValidateEnvoyConfig(t testing.TB, files ...string) (problems string, ok bool) {
	t.Helper()
	bin := envoyValidate.Binary(t)
	out, err := exec.Command(bin, files...).CombinedOutput()
	return string(out), err == nil
}
