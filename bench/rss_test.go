package bench

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// TestIdleConnectionsRSS measures resident memory with many idle
// keep-alive client connections, for authgate and, as the yardstick, the
// load test's bare proxy (scripts/loadtest/bareproxy), each run as its own
// process (so the clients' memory is not counted) in front of the same
// backend. It opens the connections, sends one request on each (to
// authgate a protected one), leaves them open, and reads VmRSS from /proc
// right away and again after they have idled through the Go runtime's
// periodic collection (at most every 2 minutes), which shrinks the stacks
// the requests grew and lets freed pages go back. It opens 10,000
// connections per process, so it only runs when asked:
//
//	AUTHGATE_RSS_TEST=1 go test -run TestIdleConnectionsRSS -v -timeout 20m ./bench/
//
// AUTHGATE_RSS_CONNS sets the number of connections,
// AUTHGATE_RSS_TLS=1 puts authgate's connections on TLS (self-signed,
// HTTP/1.1), AUTHGATE_RSS_PARK and AUTHGATE_RSS_RELEASE set
// limits.park_idle_after and runtime.release_memory_after ("0s" turns
// either off, to see what it saves),
// AUTHGATE_RSS_SETTLE_SECONDS the idle time before the second reading
// (default 135: past the runtime's forced collection 2 minutes after the
// last one), and AUTHGATE_RSS_LIMIT_MIB the settled resident size
// authgate fails above (default 100). Both processes run with their
// runtime defaults (GOGC and GOMEMLIMIT are removed from their
// environment): authgate's runtime: keys (gogc 400, memory_limit 512MiB),
// Go's GOGC=100 for the bare proxy. AUTHGATE_RSS_GOGC, when set, is given
// to both. The open-file limit is raised to the hard limit; the children
// inherit it.
func TestIdleConnectionsRSS(t *testing.T) {
	if os.Getenv("AUTHGATE_RSS_TEST") == "" {
		t.Skip("set AUTHGATE_RSS_TEST=1 to measure memory with 10,000 idle connections")
	}
	conns := envInt(t, "AUTHGATE_RSS_CONNS", 10000)
	limitMiB := envInt(t, "AUTHGATE_RSS_LIMIT_MIB", 100)
	settle := time.Duration(envInt(t, "AUTHGATE_RSS_SETTLE_SECONDS", 135)) * time.Second
	raiseFileLimit(t, uint64(conns)+1000)
	env := withoutEnv(os.Environ(), "GOGC", "GOMEMLIMIT")
	if v := os.Getenv("AUTHGATE_RSS_GOGC"); v != "" {
		env = append(env, "GOGC="+v)
	}

	dir := t.TempDir()
	gwBin, bareBin := filepath.Join(dir, "authgate"), filepath.Join(dir, "bareproxy")
	for bin, pkg := range map[string]string{
		gwBin:   "github.com/authgate/authgate",
		bareBin: "github.com/authgate/authgate/scripts/loadtest/bareproxy",
	} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	back := newBackend(t)

	t.Run("authgate", func(t *testing.T) {
		g := &gw{dir: t.TempDir()}
		var ops string
		// Idle connections must outlive the measurement (default 120 s).
		extra := "limits:\n  idle_timeout: 30m\n"
		if v := os.Getenv("AUTHGATE_RSS_PARK"); v != "" {
			extra += "  park_idle_after: " + v + "\n"
		}
		if v := os.Getenv("AUTHGATE_RSS_RELEASE"); v != "" {
			extra += "runtime:\n  release_memory_after: " + v + "\n"
		}
		useTLS := os.Getenv("AUTHGATE_RSS_TLS") == "1"
		o := gwOptions{alg: "ES256", redis: true, ops: true, tls: useTLS, extraYAML: extra}
		g.cfgFile, g.prefix = gatewayConfig(t, g.dir, back.URL, o)
		pid, logFile := startProcess(t, env, gwBin, "serve", "--config", g.cfgFile)
		addrs := loggedListeners(t, logFile)
		g.base, ops = baseURL(o, addrs), addrs["ops"]
		addr := g.base[strings.Index(g.base, "//")+2:]
		request := "GET /api/items HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + g.mint(t, "rss-session") + "\r\n\r\n"
		measureIdleRSS := measureIdleRSS
		if useTLS {
			measureIdleRSS = measureIdleRSSOverTLS
		}
		rss := measureIdleRSS(t, pid, addr, request, conns, settle, func() string {
			m := goMetrics(t, ops)
			return fmt.Sprintf("; Go heap in use %.1f MiB, stacks %.1f MiB, goroutines %.0f, GC cycles %.0f",
				m["go_memstats_heap_inuse_bytes"]/(1<<20), m["go_memstats_stack_inuse_bytes"]/(1<<20),
				m["go_goroutines"], m["go_gc_duration_seconds_count"])
		})
		if rss > uint64(limitMiB)<<20 {
			t.Errorf("authgate RSS with %d idle connections = %.1f MiB; want at most %d MiB", conns, mib(rss), limitMiB)
		}
	})
	t.Run("bare-proxy", func(t *testing.T) {
		pid, logFile := startProcess(t, env, bareBin, "-listen", "127.0.0.1:0", "-target", back.URL)
		var addr string
		testenv.WaitFor(t, "the bare proxy's listening line", func() bool {
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			if m := regexp.MustCompile(`listening on (\S+)`).FindSubmatch(data); m != nil {
				addr = string(m[1])
			}
			return addr != ""
		})
		request := "GET /api/items HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
		measureIdleRSS(t, pid, addr, request, conns, settle, func() string { return "" })
	})
}

// startProcess runs bin until the test ends and returns its pid and the
// file in the test's directory its stderr goes to.
func startProcess(t *testing.T, env []string, bin string, args ...string) (pid int, stderrFile string) {
	t.Helper()
	logFile, err := os.Create(filepath.Join(t.TempDir(), "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logFile.Close()
	})
	return cmd.Process.Pid, logFile.Name()
}

// measureIdleRSS opens conns connections to addr, sends request on each
// and keeps them open; it logs the process's RSS right away and after
// settle, and returns the latter. extra adds to each log line.
func measureIdleRSS(t *testing.T, pid int, addr, request string, conns int, settle time.Duration, extra func() string) uint64 {
	t.Helper()
	return measureIdle(t, pid, addr, request, conns, settle, extra, func() (net.Conn, error) {
		return net.DialTimeout("tcp", addr, 10*time.Second)
	})
}

// measureIdleRSSOverTLS is measureIdleRSS with connections that speak
// HTTP/1.1 over TLS.
func measureIdleRSSOverTLS(t *testing.T, pid int, addr, request string, conns int, settle time.Duration, extra func() string) uint64 {
	t.Helper()
	return measureIdle(t, pid, addr, request, conns, settle, extra, func() (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
			&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	})
}

func measureIdle(t *testing.T, pid int, addr, request string, conns int, settle time.Duration, extra func() string, dial func() (net.Conn, error)) uint64 {
	t.Helper()
	one := func() (net.Conn, error) {
		c, err := dial()
		if err != nil {
			return nil, err
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, request); err != nil {
			c.Close()
			return nil, err
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			return nil, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			c.Close()
			return nil, fmt.Errorf("status %d", res.StatusCode)
		}
		c.SetDeadline(time.Time{})
		return c, nil
	}
	testenv.WaitFor(t, addr+" to serve", func() bool {
		c, err := one()
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	time.Sleep(time.Second) // a measurement, not synchronisation: let the start-up garbage settle
	base := status(t, pid)["VmRSS"]

	open := make([]net.Conn, conns)
	t.Cleanup(func() {
		for _, c := range open {
			if c != nil {
				c.Close()
			}
		}
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range 64 {
		wg.Go(func() {
			for i := range next {
				c, err := one()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				open[i] = c
				mu.Unlock()
			}
		})
	}
	for i := range conns {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}

	report := func(when string) uint64 {
		time.Sleep(time.Second) // a measurement, not synchronisation: let the last connections settle
		st := status(t, pid)
		rss := st["VmRSS"]
		// A connection that was closed reads EOF or a reset at once. On
		// some machines idle loopback connections start being reset about
		// 150 s after their last request, whatever the server (its TCP
		// keep-alive probes go unanswered: TcpExtTCPAbortOnTimeout in
		// nstat): hence the default settle time of 135 s, and a handful
		// is tolerated.
		var closed atomic.Int64
		var firstClosed atomic.Pointer[error]
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Go(func() {
				buf := make([]byte, 1)
				for i := w; i < len(open); i += 64 {
					c := open[i]
					c.SetReadDeadline(time.Now().Add(time.Millisecond))
					if _, err := c.Read(buf); !isTimeout(err) {
						closed.Add(1)
						err = fmt.Errorf("connection %d: %w", i, err)
						firstClosed.CompareAndSwap(nil, &err)
					}
				}
			})
		}
		wg.Wait()
		if n := int(closed.Load()); n > conns/100 {
			t.Fatalf("%s: %d of %d connections closed (first: %v); want them open and idle", when, n, conns, *firstClosed.Load())
		}
		t.Logf("%s: RSS %.1f MiB (%.1f MiB before; %.1f KiB per connection; %d closed), peak %.1f MiB%s",
			when, mib(rss), mib(base), float64(rss-base)/float64(conns)/1024, closed.Load(), mib(st["VmHWM"]), extra())
		return rss
	}
	report(fmt.Sprintf("%d idle keep-alive connections, just opened", conns))
	time.Sleep(settle)
	return report(fmt.Sprintf("the same after %s idle", settle))
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// status reads /proc/PID/status: sizes (kB) in bytes, counts as they are.
func status(t *testing.T, pid int) map[string]uint64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		k, v, ok := strings.Cut(string(line), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) == 2 && f[1] == "kB" {
			n <<= 10
		}
		out[k] = n
	}
	return out
}

// goMetrics scrapes the gateway's /metrics for the value of each
// unlabelled series.
func goMetrics(t *testing.T, ops string) map[string]float64 {
	t.Helper()
	res, err := http.Get("http://" + ops + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = f
		}
	}
	return out
}

func raiseFileLimit(t *testing.T, want uint64) {
	t.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	if l.Max < want {
		t.Fatalf("open-file hard limit %d is below the %d this test needs (ulimit -Hn)", l.Max, want)
	}
	if l.Cur < want {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			t.Fatal(err)
		}
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !contains(names, k) {
			out = append(out, kv)
		}
	}
	return out
}
