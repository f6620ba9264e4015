package gateway

import (
	"path/filepath"
	"strings"
	"testing"
)

// noEnv is an empty environment for Loader.
func noEnv(string) (string, bool) { return "", false }

// TestReservedIdentityHeaderIsAConfigError: `identity_headers.user_id:
// X-Request-Id` is refused by the loader — which `authgate check` and
// `authgate serve` both run — at its line. It used to pass check and then
// stop the start with an error that named no line: the proxy had a second,
// longer list of reserved names than validation.
func TestReservedIdentityHeaderIsAConfigError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.yaml")
	yaml := "identity_headers:\n  user_id: X-Request-Id\nroutes:\n  - path: /\n    upstream: builtin:echo\n"
	_, err := Loader{LookupEnv: noEnv}.Parse(file, []byte(yaml))
	want := file + `:2:3: identity_headers.user_id: "X-Request-Id" is reserved`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Parse = %v; want %s…", err, want)
	}
}
