package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// The fault tests break the services authgate depends on — a Redis, a
// PostgreSQL, an instance of authgate itself — while clients keep using
// the gateway. Each starts its own copy of the service it breaks, on a
// Unix socket in a directory of its own, and never touches the shared
// ones. This file holds what they share.

// needService skips the test loudly when a program it needs is missing,
// and fails it under CI=true, like testenv does for unreachable services.
func needService(t testing.TB, what string, err error) {
	t.Helper()
	msg := fmt.Sprintf("!!! %s unavailable (%v): install it to run the fault tests", what, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// privatePostgres is a PostgreSQL cluster of the test's own: initdb into
// a temporary directory, pg_ctl, trust authentication. It listens on a
// Unix socket in that directory and on no TCP port; clients reach it
// through a Gate on a loopback port bound once for the whole test. A test
// stops and starts it again under gateways configured with its address,
// and a TCP port of its own, let go of while it is stopped, could be
// taken meanwhile by another package's tests running in parallel.
// initdb refuses to run as root, so under root the binaries run as the
// postgres OS user (runuser) and the directory is handed to that user.
type privatePostgres struct {
	t    testing.TB
	bin  string   // directory of initdb and pg_ctl
	dir  string   // cluster data directory; the socket is in its parent
	as   []string // command prefix: runuser -u postgres -- (under root)
	gate *testenv.Gate
}

func startPrivatePostgres(t testing.TB) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			bins = []string{p}
		} else {
			needService(t, "PostgreSQL server binaries (initdb, pg_ctl)", errors.New("not under /usr/lib/postgresql/*/bin nor on PATH"))
		}
	}
	sort.Strings(bins)
	p := &privatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	// Not t.TempDir: its parent is private to root, and the server runs
	// as postgres; and a socket's path must be short.
	root, err := os.MkdirTemp("", "authgate-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	p.dir = filepath.Join(root, "data")
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err != nil {
			needService(t, "runuser (initdb refuses to run as root)", err)
		}
		pw, err := lookupUser("postgres")
		if err != nil {
			needService(t, "the postgres OS user", err)
		}
		if err := os.Chown(root, pw.uid, pw.gid); err != nil {
			t.Fatal(err)
		}
		p.as = []string{"runuser", "-u", "postgres", "--"}
	}
	p.run("initdb", "-D", p.dir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	p.gate = testenv.NewGate(t, filepath.Join(root, ".s.PGSQL.5432"))
	p.start()
	t.Cleanup(func() {
		p.signalAll(syscall.SIGCONT)
		// Already stopped by the test is fine: pg_ctl then says so.
		p.command("pg_ctl", "-D", p.dir, "-w", "-t", "30", "-m", "immediate", "stop").Run()
	})
	return p
}

// url is a connection URL for the cluster's postgres database, through
// the gate. While the cluster is stopped, the gate resets every
// connection it accepts.
func (p *privatePostgres) url() string {
	return "postgres://postgres@" + p.gate.Addr() + "/postgres?sslmode=disable"
}

// command runs one of the server binaries, as the postgres user under
// root.
func (p *privatePostgres) command(name string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, p.as...), filepath.Join(p.bin, name)), args...)
	return exec.Command(argv[0], argv[1:]...)
}

func (p *privatePostgres) run(name string, args ...string) {
	p.t.Helper()
	cmd := p.command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

// start starts the cluster and waits until it accepts connections.
func (p *privatePostgres) start() {
	p.t.Helper()
	// The port (default 5432) only names the socket.
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -c fsync=off -c full_page_writes=off", filepath.Dir(p.dir))
	p.run("pg_ctl", "-D", p.dir, "-w", "-t", "30", "-l", filepath.Join(filepath.Dir(p.dir), "server.log"), "-o", opts, "start")
}

// stop shuts the cluster down as an operator would (pg_ctl -m fast):
// sessions are terminated, their connections closed.
func (p *privatePostgres) stop() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.dir, "-w", "-t", "30", "-m", "fast", "stop")
}

// signalAll sends sig to the postmaster and every server process it
// started (found by parent pid): SIGSTOP freezes the whole server with
// its sockets open, as a hung host would look from the network.
func (p *privatePostgres) signalAll(sig syscall.Signal) {
	data, err := os.ReadFile(filepath.Join(p.dir, "postmaster.pid"))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return
	}
	pids := []int{pid}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so cut at ")".
		_, rest, ok := strings.Cut(string(b), ") ")
		fields := strings.Fields(rest)
		if !ok || len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
			child, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Dir(f), "/proc/"), "/"))
			pids = append(pids, child)
		}
	}
	for _, id := range pids {
		syscall.Kill(id, sig)
	}
}

type osUser struct{ uid, gid int }

// lookupUser reads /etc/passwd (os/user needs cgo for some setups).
func lookupUser(name string) (osUser, error) {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return osUser{}, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 4 && f[0] == name {
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 != nil || err2 != nil {
				return osUser{}, fmt.Errorf("malformed /etc/passwd entry for %s", name)
			}
			return osUser{uid, gid}, nil
		}
	}
	return osUser{}, fmt.Errorf("no user %s in /etc/passwd", name)
}

// newJSONRequest builds a request with body encoded as JSON (nil: no body,
// no Content-Type).
func newJSONRequest(t testing.TB, method, url string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// apiCall sends a JSON request to the auth API and returns the status, the
// Content-Type and the decoded body (nil if it is not JSON).
func callAuthAPI(t testing.TB, c *http.Client, method, url string, body any, header http.Header) (int, string, map[string]any) {
	t.Helper()
	req := newJSONRequest(t, method, url, body)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return res.StatusCode, res.Header.Get("Content-Type"), out
}

// loginPair is a login or refresh answer.
type loginPair struct{ access, refresh string }

// register creates an account through POST /auth/register.
func registerUser(t testing.TB, c *http.Client, base, username, password string) {
	t.Helper()
	retried := false
	status, body := callHealthyAuthAPI(t, c, base+"/auth/register",
		map[string]string{"username": username, "email": username + "@example.com", "password": password}, &retried)
	// A 503 that ran out of time may have committed the account before
	// it did: then the retry finds the name taken.
	if status != http.StatusCreated && !(retried && status == http.StatusConflict) {
		t.Fatalf("register %s = %d %v; want 201", username, status, body)
	}
}

// callHealthyAuthAPI POSTs to the account API of a gateway whose store is
// up, as the fault tests do before and after a fault. A 503 then means
// only that the operation ran out of database.timeout on a starved
// machine (bcrypt under -race, many test processes): it is logged and
// retried, for up to a minute. retried reports whether it was.
func callHealthyAuthAPI(t testing.TB, c *http.Client, url string, req any, retried *bool) (int, map[string]any) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		status, _, body := callAuthAPI(t, c, http.MethodPost, url, req, nil)
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return status, body
		}
		t.Logf("POST %s = 503 with the store up (a starved machine): retrying", url)
		*retried = true
		time.Sleep(100 * time.Millisecond) // back-off, not synchronisation
	}
}

// login signs in through POST /auth/login.
func loginUser(t testing.TB, c *http.Client, base, username, password string) loginPair {
	t.Helper()
	var retried bool
	status, body := callHealthyAuthAPI(t, c, base+"/auth/login",
		map[string]string{"username": username, "password": password}, &retried)
	if status != http.StatusOK {
		t.Fatalf("login %s = %d %v; want 200", username, status, body)
	}
	a, _ := body["access_token"].(string)
	r, _ := body["refresh_token"].(string)
	return loginPair{a, r}
}

func withBearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// loadOutcome is one request made under load.
type loadOutcome struct {
	name       string // what was asked, e.g. "deny/revoked"
	start, end time.Time
	status     int
	err        error
}

// loadRecorder runs clients in a loop and keeps every loadOutcome.
type loadRecorder struct {
	mu    sync.Mutex
	outs  []loadOutcome
	names map[string]bool // every name a client was started under
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newLoadRecorder() *loadRecorder {
	return &loadRecorder{names: map[string]bool{}, stop: make(chan struct{})}
}

// run starts one client goroutine that sends req (built fresh each time)
// until halt, recording each loadOutcome under name.
func (l *loadRecorder) run(name string, c *http.Client, req func() *http.Request) {
	l.mu.Lock()
	l.names[name] = true
	l.mu.Unlock()
	l.wg.Go(func() {
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			o := loadOutcome{name: name, start: time.Now()}
			res, err := c.Do(req())
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				o.status = res.StatusCode
			}
			o.err, o.end = err, time.Now()
			l.mu.Lock()
			l.outs = append(l.outs, o)
			l.mu.Unlock()
			// Pacing, not synchronisation: a client that waits a little
			// between requests, so that a few goroutines do not take
			// every core from the gateways they load.
			time.Sleep(2 * time.Millisecond)
		}
	})
}

// awaitMore waits until the clients of every name have recorded n more
// outcomes than when it was called: some traffic in the state the test
// has just brought about, counted rather than slept for.
func (l *loadRecorder) awaitMore(t testing.TB, what string, n int) {
	t.Helper()
	before := l.counts()
	testenv.WaitFor(t, fmt.Sprintf("%d more requests of every kind (%s)", n, what), func() bool {
		for name, c := range l.counts() {
			if c < before[name]+n {
				return false
			}
		}
		return true
	})
}

// counts is how many outcomes the clients of each name have recorded.
func (l *loadRecorder) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.names))
	for name := range l.names {
		out[name] = 0
	}
	for _, o := range l.outs {
		out[o.name]++
	}
	return out
}

// halt stops every client and waits for them.
func (l *loadRecorder) halt() {
	close(l.stop)
	l.wg.Wait()
}

// snapshot returns the outcomes recorded so far.
func (l *loadRecorder) snapshot() []loadOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loadOutcome(nil), l.outs...)
}

// first returns the first loadOutcome (by end time) after from that matches.
func firstOutcome(outs []loadOutcome, from time.Time, match func(loadOutcome) bool) (loadOutcome, bool) {
	var best loadOutcome
	found := false
	for _, o := range outs {
		if o.end.After(from) && match(o) && (!found || o.end.Before(best.end)) {
			best, found = o, true
		}
	}
	return best, found
}

// getReq returns a request builder for GET url with header.
func getRequestFn(url string, header http.Header) func() *http.Request {
	return func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		return req
	}
}

// statusCounts summarises outcomes by name and status, for the log.
func outcomeCounts(outs []loadOutcome) string {
	counts := map[string]map[string]int{}
	for _, o := range outs {
		if counts[o.name] == nil {
			counts[o.name] = map[string]int{}
		}
		k := strconv.Itoa(o.status)
		if o.err != nil {
			k = "error"
		}
		counts[o.name][k]++
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s %v; ", n, counts[n])
	}
	return b.String()
}

// faultRedisClient is a go-redis client with authgate's timeouts, closed
// when the test ends.
func faultRedisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	c, err := denylist.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sidOf reads the session id out of an access token (unverified: the
// test made the token itself).
func sidOf(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.SID == "" {
		t.Fatalf("no sid in %s (%v)", raw, err)
	}
	return claims.SID
}
