package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server of the test's own, which the test may
// kill, pause and start again; the shared Redis is never touched. It runs
// without persistence: a restart loses every key, as a crashed cache
// would.
//
// It listens on a Unix socket in the test's temporary directory, not on
// a TCP port: a restart must find its address free, and a port let go of
// by a killed server could be taken by another package's tests in the
// meantime, while a path in the test's own directory cannot. Clients
// that need TCP reach it through a Gate.
type RedisServer struct {
	t    testing.TB
	sock string // the Unix socket's path
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// StartRedisServer starts a RedisServer, killed when the test ends. Without
// redis-server installed the test is skipped loudly (failed under CI=true).
func StartRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		msg := fmt.Sprintf("!!! redis-server not found (%v): install it to run the Redis fault tests", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	r := &RedisServer{t: t, sock: filepath.Join(shortTempDir(t), "redis.sock")}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

// Addr is the path of the server's Unix socket, which NewGate takes as
// its target.
func (r *RedisServer) Addr() string { return r.sock }

// URL is the server's unix:// URL, database 0 (go-redis's ParseURL reads
// it).
func (r *RedisServer) URL() string { return "unix://" + r.sock + "?db=0" }

// Start runs redis-server on the server's socket and waits until it
// answers PING.
func (r *RedisServer) Start() {
	r.t.Helper()
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", r.sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: r.sock, DialerRetries: 1})
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatal("the private redis-server did not answer PING within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server with SIGKILL, like a crash.
func (r *RedisServer) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// Signal sends sig to the running server (SIGSTOP freezes it).
func (r *RedisServer) Signal(sig os.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signal redis-server: %v", err)
	}
}
