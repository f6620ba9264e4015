package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// The process tests build the authgate binary and run it as an operator
// would: signals, not channels, drive reload and shutdown.

// buildAuthgate builds the module's main package into a temporary
// directory.
func buildAuthgate(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	root := strings.TrimSpace(string(out))
	bin := filepath.Join(t.TempDir(), "authgate")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// gatewayProcess is a running authgate binary.
type gatewayProcess struct {
	cmd    *exec.Cmd
	stderr *logBuffer
	exited chan struct{}
	err    error // cmd.Wait's result, set before exited closes
}

// startProcess runs `authgate serve --config cfgFile` (written by g,
// its listeners on port 0), reads the addresses it bound from its
// "listeners" log line into g, and waits until its ops listener answers
// /healthz.
func startProcess(t *testing.T, bin string, g *testGateway, cfgFile string) *gatewayProcess {
	t.Helper()
	p := &gatewayProcess{stderr: &logBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", cfgFile)
	p.cmd.Dir = g.dir
	p.cmd.Stdout = p.stderr
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start authgate: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("authgate log:\n%s", p.stderr)
		}
	})
	alive := func() {
		select {
		case <-p.exited:
			t.Fatalf("authgate exited: %v\n%s", p.err, p.stderr)
		default:
		}
	}
	var addrs map[string]string
	testenv.WaitFor(t, "authgate's listeners line", func() bool {
		alive()
		addrs = listenersLogged(t, p.stderr.String())
		return addrs != nil
	})
	g.setAddrs(addrs)
	testenv.WaitFor(t, "authgate's /healthz", func() bool {
		alive()
		res, err := http.Get(g.opsURL("/healthz"))
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return p
}

// listenersLogged returns the bound address of each listener from the
// "listeners" line of a JSON log, or nil when there is none yet. Each
// value is the address, then what the listener serves.
func listenersLogged(t *testing.T, log string) map[string]string {
	t.Helper()
	for line := range strings.SplitSeq(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "listeners" {
			continue
		}
		addrs := map[string]string{}
		for _, name := range []string{"https", "http", "ops"} {
			if v, ok := m[name].(string); ok {
				addr, _, _ := strings.Cut(v, " ")
				addrs[name] = addr
			}
		}
		return addrs
	}
	return nil
}

func (p *gatewayProcess) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *gatewayProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("authgate did not exit within 60 s")
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("authgate: %v", p.err)
	return -1
}

func TestProcessSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildAuthgate(t)
	a, b := newBackend(t, "A"), newBackend(t, "B")

	// The slow backend holds every request until released, so the test
	// knows they are all in flight when it sends SIGTERM.
	var arrived atomic.Int64
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(releaseAll) // runs before slow.Close

	g := newTestGateway(t)
	routes := func(target string) string {
		return fmt.Sprintf(`routes:
  - name: a
    path: /a
    auth: public
    upstream: %s
  - name: slow
    path: /slow
    auth: public
    upstream: %s
`, target, slow.URL)
	}
	cfgFile := g.write(routes(a.URL))
	p := startProcess(t, bin, g, cfgFile)
	c1, c2 := g.client(false), g.client(true)

	t.Run("ok-sighup-reloads", func(t *testing.T) {
		if res, body := get(t, c1, g.url("/a"), nil); res.StatusCode != http.StatusOK || body != "A" {
			t.Fatalf("GET /a = %d %q; want 200 A", res.StatusCode, body)
		}
		g.write(routes(b.URL))
		p.signal(t, syscall.SIGHUP)
		testenv.WaitFor(t, "GET /a to reach B after SIGHUP", func() bool {
			res, body := get(t, c1, g.url("/a"), nil)
			return res.StatusCode == http.StatusOK && body == "B"
		})
		if !strings.Contains(p.stderr.String(), "configuration reloaded") {
			t.Errorf("no \"configuration reloaded\" in the log")
		}
	})

	t.Run("ok-sigterm-drains", func(t *testing.T) {
		const n = 10
		type result struct {
			status int
			body   string
			err    error
		}
		results := make(chan result, n)
		for i := range n {
			c := c1 // 5 requests on 5 HTTP/1.1 connections, 5 streams on one HTTP/2 connection
			if i%2 == 1 {
				c = c2
			}
			go func() {
				res, err := c.Get(g.url("/slow"))
				if err != nil {
					results <- result{err: err}
					return
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				results <- result{status: res.StatusCode, body: string(body), err: err}
			}()
		}
		testenv.WaitFor(t, "10 requests in flight at the backend", func() bool { return arrived.Load() == n })

		p.signal(t, syscall.SIGTERM)
		// Draining: the listeners close at once, while the requests
		// already accepted go on.
		testenv.WaitFor(t, "the https listener to refuse connections", func() bool {
			c, err := net.DialTimeout("tcp", g.httpsAddr(), 5*time.Second)
			if err == nil {
				c.Close()
			}
			return err != nil
		})
		select {
		case <-p.exited:
			t.Fatalf("authgate exited with requests in flight: %v", p.err)
		default:
		}
		releaseAll()

		for range n {
			r := <-results
			if r.err != nil || r.status != http.StatusOK || r.body != "slow" {
				t.Errorf("in-flight request = %d %q, %v; want 200 slow", r.status, r.body, r.err)
			}
		}
		if code := p.wait(t); code != 0 {
			t.Errorf("authgate exit status = %d; want 0", code)
		}
		for _, addr := range []string{g.httpsAddr(), g.httpAddr(), g.opsURL("")[len("http://"):]} {
			if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
				c.Close()
				t.Errorf("%s accepts connections after authgate exited", addr)
			}
		}
		if log := p.stderr.String(); !strings.Contains(log, "draining") || !strings.Contains(log, `"msg":"stopped"`) {
			t.Errorf("the log does not show the drain and the stop:\n%s", log)
		}
	})
}
