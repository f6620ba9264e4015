package authn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authgate/authgate/internal/testenv"
)

// testRedis returns the shared test Redis's URL and a key prefix of this
// test's own; every key under the prefix is deleted when the test ends.
func testRedis(t *testing.T) (url, prefix string) {
	t.Helper()
	url, prefix = testenv.RedisURL(t)
	c := newTestRedisClient(t, url)
	t.Cleanup(func() { deleteKeys(t, c, prefix) })
	return url, prefix
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

func deleteKeys(t *testing.T, c *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("clean up redis keys under %s: %v", prefix, err)
		return
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Logf("clean up redis keys under %s: %v", prefix, err)
		}
	}
}

// privateRedis is a redis-server of the test's own, which the test may
// stop, pause and restart; the shared one is never touched.
type privateRedis struct {
	t    *testing.T
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// startPrivateRedis starts redis-server on a free port. It skips the test
// loudly if redis-server is not installed (fails under CI=true).
func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		msg := fmt.Sprintf("!!! redis-server not found (%v): install it to run the Redis fault tests", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	r := &privateRedis{t: t, port: testenv.FreePort(t)}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *privateRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *privateRedis) url() string { return "redis://" + r.addr() + "/0" }

// start runs redis-server on r's port and waits until it answers PING.
func (r *privateRedis) start() {
	r.t.Helper()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: r.addr(), DialerRetries: 1})
	defer c.Close()
	waitFor(r.t, "private redis-server to answer", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

// kill stops the server with SIGKILL, like a crash.
func (r *privateRedis) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

func (r *privateRedis) signal(sig os.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signal redis-server: %v", err)
	}
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
