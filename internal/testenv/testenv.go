// Package testenv gives tests their own slice of the real services authgate
// runs against: a fresh PostgreSQL database, a Redis key prefix, a SQLite
// file. Tests never mock these services and never stop the shared ones.
//
// TEST_DATABASE_URL and TEST_REDIS_URL point at the services (defaults:
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable and
// redis://127.0.0.1:6379/0). When one is unreachable the test is skipped with
// a loud message, except under CI=true, where it fails.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/redis/go-redis/v9"
)

const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultRedis    = "redis://127.0.0.1:6379/0"
)

// unavailable skips the test, or fails it under CI=true, because a service
// the test needs cannot be reached.
func unavailable(t testing.TB, service string, err error) {
	t.Helper()
	msg := fmt.Sprintf("!!! %s unreachable (%v): start it (see README, \"Running the tests\") or set the TEST_* URL", service, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RandomName returns prefix followed by 12 random hex characters.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// PostgresURL creates a fresh database for this test on the server named by
// TEST_DATABASE_URL and returns its URL; the database is dropped when the
// test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = defaultPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("postgres", admin)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	name := RandomName("authgate_test_")
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
		db.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// SQLiteURL returns a sqlite: URL for a database file in the test's
// temporary directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "authgate.db")
}

// Databases returns both kinds of database for tests that must pass on
// each: "sqlite" and "postgres" mapped to a fresh URL. The PostgreSQL entry
// is created lazily by calling the returned function inside a subtest, so
// an unreachable PostgreSQL skips only that subtest.
func Databases() map[string]func(testing.TB) string {
	return map[string]func(testing.TB) string{
		"sqlite":   SQLiteURL,
		"postgres": PostgresURL,
	}
}

// RedisURL returns the Redis URL for tests (TEST_REDIS_URL or the default)
// and a key prefix unique to this test; every key under the prefix is
// deleted when the test ends. The prefix keeps parallel tests and the
// shared server apart.
func RedisURL(t testing.TB) (redisURL, keyPrefix string) {
	t.Helper()
	redisURL = os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = defaultRedis
	}
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	host := u.Host
	if !strings.Contains(host, ":") {
		host += ":6379"
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		unavailable(t, "Redis", err)
	}
	c.Close()
	keyPrefix = RandomName("authgate_test_") + ":"
	t.Cleanup(func() { deleteRedisKeys(t, redisURL, keyPrefix) })
	return redisURL, keyPrefix
}

// deleteRedisKeys removes every key under prefix (letters, digits, "_"
// and ":": no glob metacharacters to quote).
func deleteRedisKeys(t testing.TB, redisURL, prefix string) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Errorf("redis URL: %v", err)
		return
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("redis SCAN %s*: %v", prefix, err)
	}
}

// shortTempDir is a new private directory under os.TempDir, removed when
// the test ends, for Unix sockets: a socket's path must fit in about 100
// bytes, which t.TempDir, named after the test, may exceed.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ag-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
