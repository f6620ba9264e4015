package testenv

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// WaitFor polls cond until it holds and returns how long that took; after
// 30 s it fails the test, naming what it waited for. It waits for an
// event and asserts nothing about the time.
func WaitFor(t testing.TB, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("gave up after 30s waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	return time.Since(start)
}

// Logger sends a component's logs, debug level and up, to the test log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
