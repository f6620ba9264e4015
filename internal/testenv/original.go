package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The original is the FastAPI service authgate replaces (issue 12). Its
// source lives outside the repository, in shared/original beside the
// checkout; StartOriginal runs a copy of it on the test's own PostgreSQL
// database, as a team migrating to authgate would run it side by side.

// OriginalOptions says how to run the original.
type OriginalOptions struct {
	// DatabaseURL is the PostgreSQL database the original uses: the one the
	// authgate side of the test uses too (from PostgresURL). Required. A
	// postgres:// or postgresql:// URL is rewritten for SQLAlchemy
	// (postgresql+psycopg2://); its query (sslmode=…) is kept.
	DatabaseURL string
	// Secret is its SECRET_KEY (HS256). Empty: 64 random hex characters.
	Secret string
	// AccessTTL is ACCESS_TOKEN_EXPIRE_MINUTES, a whole number of minutes.
	// Zero: 15 minutes, as in its env.example. Negative: every access token
	// it issues has already expired.
	AccessTTL time.Duration
	// RefreshTTL is REFRESH_TOKEN_EXPIRE_DAYS, a whole number of days. Zero:
	// 7 days, as in its env.example. It is also the TTL of every blacklist
	// key its /logout writes.
	RefreshTTL time.Duration
}

// Original is a running copy of the original service.
type Original struct {
	// URL is its base URL, http://127.0.0.1:PORT (no trailing slash); its
	// routes are /register, /login, /refresh, /logout, /me, /protected.
	URL string
	// Secret and Algorithm sign its access and refresh tokens alike.
	Secret    string
	Algorithm string // always HS256
	// AccessTTL and RefreshTTL are the token lifetimes it was started with.
	AccessTTL, RefreshTTL time.Duration
	// RedisURL is redis://HOST:PORT/N, the logical database its blacklist
	// lives in: leased to this test alone (see leaseOriginalRedisDB), so
	// parallel tests never see each other's revoked_token:* keys. An
	// authgate pointed at the same URL must use a key_prefix from
	// RandomName("authgate_test_"); those keys, and the original's, are
	// deleted when the test ends.
	RedisURL string
	RedisDB  int
	// Dir is the copy it runs from, with the .env it read.
	Dir string

	log *processLog
}

// RevokedKey is the Redis key (in the RedisURL database) under which the
// original's /logout records a token: the exact token string, unprefixed.
func (o *Original) RevokedKey(token string) string { return "revoked_token:" + token }

// Log is the tail of what the original printed (uvicorn's log, access log
// and tracebacks), for a test's failure message.
func (o *Original) Log() string { return o.log.tail(4096) }

// StartOriginal copies the original into a temporary directory, creates
// its users table in opts.DatabaseURL (init_db.py: CREATE TABLE only if
// missing, so it can run before or after authgate migrates the database),
// starts it with uvicorn on a port the kernel picks, waits until it answers
// and stops it when the test ends.
//
// Without the original's source (see originalSource) or the Debian packages
// it needs, the test is skipped loudly, or fails under CI=true.
func StartOriginal(t testing.TB, opts OriginalOptions) *Original {
	t.Helper()
	if opts.DatabaseURL == "" {
		t.Fatal("StartOriginal: OriginalOptions.DatabaseURL is required (from testenv.PostgresURL)")
	}
	dbURL, err := sqlalchemyURL(opts.DatabaseURL)
	if err != nil {
		t.Fatalf("StartOriginal: %v", err)
	}
	access, err := wholeUnits(opts.AccessTTL, 15*time.Minute, time.Minute, "AccessTTL", "minutes")
	if err != nil {
		t.Fatalf("StartOriginal: %v", err)
	}
	refresh, err := wholeUnits(opts.RefreshTTL, 7*24*time.Hour, 24*time.Hour, "RefreshTTL", "days")
	if err != nil {
		t.Fatalf("StartOriginal: %v", err)
	}
	src := originalSource(t)
	python := originalPython(t)

	o := &Original{
		Secret:     opts.Secret,
		Algorithm:  "HS256",
		AccessTTL:  time.Duration(access) * time.Minute,
		RefreshTTL: time.Duration(refresh) * 24 * time.Hour,
		Dir:        t.TempDir(),
		log:        newProcessLog(),
	}
	if o.Secret == "" {
		b := make([]byte, 32)
		rand.Read(b)
		o.Secret = hex.EncodeToString(b)
	}
	o.RedisURL, o.RedisDB = leaseOriginalRedisDB(t)
	copyOriginal(t, src, o.Dir)
	// Its README: "cp env.example .env, set DATABASE_URL, REDIS_URL,
	// SECRET_KEY". python-dotenv never overrides the environment, and the
	// process gets a minimal one, so this file is what it runs with.
	env := strings.Join([]string{
		"SECRET_KEY=" + o.Secret,
		"ALGORITHM=" + o.Algorithm,
		"ACCESS_TOKEN_EXPIRE_MINUTES=" + strconv.FormatInt(access, 10),
		"REFRESH_TOKEN_EXPIRE_DAYS=" + strconv.FormatInt(refresh, 10),
		"DATABASE_URL=" + dbURL,
		"REDIS_URL=" + o.RedisURL,
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(o.Dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	initDB := exec.CommandContext(ctx, python, "init_db.py")
	initDB.Dir, initDB.Env = o.Dir, pythonEnv(o.Dir)
	if out, err := initDB.CombinedOutput(); err != nil {
		t.Fatalf("the original's init_db.py on %s: %v\n%s", opts.DatabaseURL, err, out)
	}

	o.start(t, python)
	return o
}

// start runs uvicorn with --port 0 and reads the port the kernel gave it
// from uvicorn's startup line, so no other process can take the port
// between choosing and binding it. uvicorn prints that line after the
// application has been imported and the socket bound.
func (o *Original) start(t testing.TB, python string) {
	t.Helper()
	cmd := exec.Command(python, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", "0")
	cmd.Dir, cmd.Env = o.Dir, pythonEnv(o.Dir)
	cmd.Stdout, cmd.Stderr = o.log, o.log // one writer: exec merges them into one pipe
	cmd.SysProcAttr = originalSysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the original: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { o.stop(t, cmd, exited) })

	const startup = 60 * time.Second // cold imports of FastAPI and SQLAlchemy under -race on two busy cores
	select {
	case port := <-o.log.port:
		o.URL = "http://127.0.0.1:" + port
	case err := <-exited:
		exited <- err // for stop
		t.Fatalf("the original exited before it listened (%v); its output ends:\n%s", err, o.Log())
	case <-time.After(startup):
		t.Fatalf("the original did not listen within %v; its output ends:\n%s", startup, o.Log())
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(o.URL + "/openapi.json")
	if err != nil {
		t.Fatalf("the original listens on %s but does not answer: %v; its output ends:\n%s", o.URL, err, o.Log())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/openapi.json = %d, want 200; its output ends:\n%s", o.URL, resp.StatusCode, o.Log())
	}
}

// stop ends the original with SIGTERM (uvicorn's graceful shutdown), then
// SIGKILL if it is still running 10 s later. On a failed test it logs the
// original's output.
func (o *Original) stop(t testing.TB, cmd *exec.Cmd, exited chan error) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	if t.Failed() {
		t.Logf("the original (%s, from %s) printed, ending:\n%s", o.URL, o.Dir, o.Log())
	}
}

// sqlalchemyURL turns a lib/pq style URL into one SQLAlchemy 1.4 accepts:
// it refuses the postgres:// scheme and needs the driver named.
func sqlalchemyURL(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("DatabaseURL: %w", err)
	}
	switch u.Scheme {
	case "postgres", "postgresql", "postgresql+psycopg2":
		u.Scheme = "postgresql+psycopg2"
		return u.String(), nil
	}
	return "", fmt.Errorf("DatabaseURL %q: the original runs on PostgreSQL only (want postgres://…)", u.Redacted())
}

// wholeUnits returns d (or def when d is 0) as a whole number of units.
func wholeUnits(d, def, unit time.Duration, field, unitName string) (int64, error) {
	if d == 0 {
		d = def
	}
	if d%unit != 0 {
		return 0, fmt.Errorf("OriginalOptions.%s = %v: the original takes whole %s", field, d, unitName)
	}
	return int64(d / unit), nil
}

// copyOriginal copies the original's regular files (not a .env, nor
// __pycache__) into dir, writable, so the read-only shared copy is never
// touched.
func copyOriginal(t testing.TB, src, dir string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == ".env" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pythonEnv is the whole environment of the original's processes: nothing
// inherited (a PYTHONPATH, a virtualenv or a DATABASE_URL of the caller's
// must not change what runs), no bytecode written, output unbuffered so a
// crash's traceback is in the log.
func pythonEnv(home string) []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"LC_ALL=C.UTF-8",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
		"PYTHONNOUSERSITE=1",
	}
}

// processLog collects a process's output and reports the port from
// uvicorn's "Uvicorn running on http://127.0.0.1:PORT" line, once.
type processLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	found bool
	port  chan string
}

var uvicornRunning = regexp.MustCompile(`Uvicorn running on http://127\.0\.0\.1:(\d+)`)

func newProcessLog() *processLog { return &processLog{port: make(chan string, 1)} }

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.found {
		if m := uvicornRunning.FindSubmatch(l.buf.Bytes()); m != nil {
			l.found = true
			l.port <- string(m[1])
		}
	}
	// Keep the last 256 KiB: the access log grows with every request.
	if l.buf.Len() > 512<<10 {
		tail := append([]byte(nil), l.buf.Bytes()[l.buf.Len()-256<<10:]...)
		l.buf.Reset()
		l.buf.Write(tail)
	}
	return len(p), nil
}

func (l *processLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
