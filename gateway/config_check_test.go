package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/tokens"
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

// TestKeyFileIsCheckedAtLoad: a signing key the start would refuse is
// refused by the loader, at tokens.private_key_file's line: `authgate
// check` used to pass any existing file.
func TestKeyFileIsCheckedAtLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "config.yaml")
	yaml := "tokens:\n  algorithm: ES256\n  private_key_file: key.pem\nroutes:\n  - path: /\n    upstream: builtin:echo\n"
	_, err := Loader{LookupEnv: noEnv}.Parse(file, []byte(yaml))
	want := file + ":3:3: tokens.private_key_file: "
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Parse = %v; want one problem, %s…", err, want)
	}
}

// TestStartProblemsNameTheLine: what only the start can find — here a
// verify_keys JWKS URL that does not answer — is reported with the file,
// line and column of its key, as the loader's problems are.
func TestStartProblemsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	key, err := tokens.Keygen(tokens.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "config.yaml")
	yaml := "database:\n  url: sqlite:data/authgate.db\n" +
		"tokens:\n  algorithm: ES256\n  private_key_file: key.pem\n  verify_keys:\n    - https://127.0.0.1:1/jwks.json\n" +
		"tls:\n  mode: off\nlisten:\n  https: \"\"\n  http: 127.0.0.1:0\n  ops: \"\"\n" +
		"routes:\n  - path: /\n    upstream: builtin:echo\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Loader{LookupEnv: noEnv}.Load(file)
	if err != nil {
		t.Fatalf("Load = %v; want the config accepted (the URL is fetched only at start)", err)
	}
	_, err = NewFromConfig(context.Background(), cfg, Options{ConfigPath: file})
	want := file + ":7:7: tokens.verify_keys[0]: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("NewFromConfig = %v; want %s…", err, want)
	}
}
