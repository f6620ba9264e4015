package gateway

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeConfigIn writes body as config.yaml in dir and returns its path.
func writeConfigIn(t testing.TB, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "config.yaml")
	writeFile(t, p, []byte(body))
	return p
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runningServer is a gateway started by a test.
type runningServer struct {
	*Server
	reload chan struct{}
	cancel context.CancelFunc
	done   chan error
}

// startServer builds a Server from cfgFile, runs it until the test ends and
// waits until its listeners accept connections.
func startServer(t testing.TB, cfgFile string) *runningServer {
	t.Helper()
	return startServerLogging(t, cfgFile, io.Discard)
}

// startServerLogging is startServer with the server's JSON log written to
// w (and to stderr as well under -v).
func startServerLogging(t testing.TB, cfgFile string, w io.Writer) *runningServer {
	t.Helper()
	if testing.Verbose() {
		w = io.MultiWriter(w, os.Stderr)
	}
	logger := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Options{ConfigPath: cfgFile, Logger: logger, Version: "test"})
	if err != nil {
		cancel()
		t.Fatalf("New(%s): %v", cfgFile, err)
	}
	rs := &runningServer{Server: s, reload: make(chan struct{}), cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- s.Run(ctx, rs.reload) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-rs.done:
			if err != nil {
				t.Errorf("Run returned %v; want nil after cancel", err)
			}
		case <-time.After(40 * time.Second):
			t.Error("server did not stop within 40 s")
		}
	})
	select {
	case <-s.Ready():
	case err := <-rs.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start listening within 30 s")
	}
	return rs
}

// testSecret is an HS256 secret that passes the secret rules, for test
// configs only.
const testSecret = "test-only-secret-4Kq9Zr2Xw7Lm0Pv5Ns8Tb3Yc6Hd1Jf"
