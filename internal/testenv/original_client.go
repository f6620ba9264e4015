package testenv

import (
	"context"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// originalClient is a client written for the original service, unchanged
// (testdata/original_client.py; its docstring lists what it checks). Issue
// 12 runs the same script against authgate's compatibility mode, changing
// only the base URL.
//
//go:embed testdata/original_client.py
var originalClient []byte

// RunOriginalClient runs the original's unchanged client against baseURL
// (the server's root for the original: it appends /register, /login, …)
// and fails the test with the client's report unless every check passes.
// It returns what the client printed.
func RunOriginalClient(t testing.TB, baseURL string) string {
	t.Helper()
	out, err := originalClientCmd(t, baseURL).CombinedOutput()
	if err != nil {
		t.Fatalf("the original's client against %s: %v\n%s", baseURL, err, out)
	}
	return string(out)
}

// originalClientCmd is the command that runs the client against baseURL,
// killed after two minutes.
func originalClientCmd(t testing.TB, baseURL string) *exec.Cmd {
	t.Helper()
	script := filepath.Join(t.TempDir(), "original_client.py")
	if err := os.WriteFile(script, originalClient, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, debianPython(t), script, baseURL)
	cmd.Env = pythonEnv(t.TempDir())
	return cmd
}
