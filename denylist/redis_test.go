package denylist

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authgate/authgate/internal/testenv"
)

// testRedis returns the shared test Redis's URL and a key prefix of this
// test's own; every key under the prefix is deleted when the test ends.
func testRedis(t *testing.T) (url, prefix string) {
	t.Helper()
	return testenv.RedisURL(t)
}

// newTestRedisClient returns a client built by NewRedisClient, closed when
// the test ends.
func newTestRedisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	c, err := NewRedisClient(url)
	if err != nil {
		t.Fatalf("NewRedisClient(%q): %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNewRedisClient(t *testing.T) {
	tests := []struct {
		name        string
		url         string
		wantAddr    string
		wantRead    time.Duration
		wantDial    time.Duration
		wantErr     bool
		errNotLeaks string
	}{
		{name: "ok-defaults", url: "redis://127.0.0.1:6379/0", wantAddr: "127.0.0.1:6379", wantRead: time.Second, wantDial: 2 * time.Second},
		{name: "ok-url-timeouts-win", url: "redis://:pw@10.0.0.1:6380/2?read_timeout=3s&dial_timeout=5s", wantAddr: "10.0.0.1:6380", wantRead: 3 * time.Second, wantDial: 5 * time.Second},
		{name: "fail-scheme", url: "http://127.0.0.1:6379", wantErr: true},
		{name: "fail-bad-url-hides-password", url: "redis://user:hunter2@host:port:6379\x7f", wantErr: true, errNotLeaks: "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewRedisClient(tt.url)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewRedisClient(%q) error = %v; wantErr %v", tt.url, err, tt.wantErr)
			}
			if err != nil {
				if tt.errNotLeaks != "" && strings.Contains(err.Error(), tt.errNotLeaks) {
					t.Errorf("NewRedisClient error %q leaks %q", err, tt.errNotLeaks)
				}
				return
			}
			defer c.Close()
			o := c.Options()
			if o.Addr != tt.wantAddr || o.ReadTimeout != tt.wantRead || o.DialTimeout != tt.wantDial {
				t.Errorf("NewRedisClient(%q) = addr %s read %s dial %s; want %s %s %s",
					tt.url, o.Addr, o.ReadTimeout, o.DialTimeout, tt.wantAddr, tt.wantRead, tt.wantDial)
			}
			if o.WriteTimeout != time.Second || o.DialerRetries != 1 || !o.ContextTimeoutEnabled {
				t.Errorf("NewRedisClient(%q): write %s, dialer retries %d, context timeouts %v; want 1s, 1, true",
					tt.url, o.WriteTimeout, o.DialerRetries, o.ContextTimeoutEnabled)
			}
		})
	}
}
