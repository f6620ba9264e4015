package gateway

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
	"github.com/authgate/authgate/tokens"
)

func routesTo(a, c *backend, extra string) string {
	return fmt.Sprintf(`routes:
  - name: a
    path: /a
    auth: public
    upstream: %s
  - name: other
    path: /other
    auth: public
    upstream: %s
%s`, a.URL, c.URL, extra)
}

// loadResult counts what a load generator saw.
type loadResult struct {
	total, fromA, fromB, failed atomic.Int64
	mu                          sync.Mutex
	failures                    []string
}

func (l *loadResult) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.failures) < 10 {
		l.failures = append(l.failures, msg)
	}
	l.mu.Unlock()
}

// runLoad starts workers goroutines sending GET url in a loop, half of
// them over HTTP/2, until the returned stop is called (at the latest when
// the test ends); stop waits for them.
func runLoad(t *testing.T, g *testGateway, url string, workers int) (*loadResult, func()) {
	t.Helper()
	res := &loadResult{}
	var wg sync.WaitGroup
	done := make(chan struct{})
	var once sync.Once
	stop := func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
	t.Cleanup(stop)
	clients := []*http.Client{g.client(false), g.client(true)}
	for i := range workers {
		c := clients[i%2]
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				res.total.Add(1)
				r, err := c.Get(url)
				if err != nil {
					res.fail(err.Error())
					continue
				}
				body, err := io.ReadAll(r.Body)
				r.Body.Close()
				switch {
				case err != nil:
					res.fail("reading the body: " + err.Error())
				case r.StatusCode != http.StatusOK:
					res.fail(fmt.Sprintf("status %d: %s", r.StatusCode, body))
				case string(body) == "A":
					res.fromA.Add(1)
				case string(body) == "B":
					res.fromB.Add(1)
				default:
					res.fail(fmt.Sprintf("unexpected body %q", body))
				}
			}
		})
	}
	return res, stop
}

// TestReloadUnderLoad reloads a config that moves a route from backend A
// to backend B and adds a route, while 8 clients keep sending requests:
// not one request may fail. Then a broken config is reloaded: it is
// logged and the routes keep serving as before.
func TestReloadUnderLoad(t *testing.T) {
	a, b, other := newBackend(t, "A"), newBackend(t, "B"), newBackend(t, "other")
	g := newTestGateway(t)
	logs := &logBuffer{}
	cfgFile := g.write(routesTo(a, other, ""))
	g.logTo = logs
	rs := g.run(cfgFile)
	client := g.client(false)
	if res, body := get(t, client, g.url("/a"), nil); res.StatusCode != http.StatusOK || body != "A" {
		t.Fatalf("GET /a before the reload = %d %q; want 200 A", res.StatusCode, body)
	}
	if res, _ := get(t, client, g.url("/new"), nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /new before the reload = %d; want 404", res.StatusCode)
	}

	load, stop := runLoad(t, g, g.url("/a"), 8)
	testenv.WaitFor(t, "load on A", func() bool { return load.fromA.Load() >= 400 })

	// Move /a to B and add /new.
	withNew := routesTo(b, other, `  - name: new
    path: /new
    auth: public
    upstream: `+b.URL+"\n")
	reloaded := func() int { return strings.Count(logs.String(), "configuration reloaded") }
	g.write(withNew)
	rs.reload <- struct{}{}
	testenv.WaitFor(t, "requests to reach B", func() bool { return load.fromB.Load() > 0 })
	atSwitch := load.total.Load()
	// More reloads under the same load, each retiring the pools the
	// requests before it may still be using.
	for i := range 6 {
		n := reloaded()
		cfg := withNew
		if i%2 == 0 {
			cfg = routesTo(b, other, "")
		}
		g.write(cfg)
		rs.reload <- struct{}{}
		testenv.WaitFor(t, "the reload", func() bool { return reloaded() > n })
	}
	testenv.WaitFor(t, "load on B", func() bool { return load.fromB.Load() >= 400 })
	stop()
	t.Logf("reload under load: %d requests (%d to A, %d to B; %d after the first answer from B), %d reloads, %d failed",
		load.total.Load(), load.fromA.Load(), load.fromB.Load(), load.total.Load()-atSwitch, reloaded(), load.failed.Load())
	if n := load.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed across the reload; want 0. First: %q", n, load.total.Load(), load.failures)
	}

	afterReload := func(when string) {
		t.Helper()
		for range 20 {
			if res, body := get(t, client, g.url("/a"), nil); res.StatusCode != http.StatusOK || body != "B" {
				t.Fatalf("GET /a %s = %d %q; want 200 B", when, res.StatusCode, body)
			}
		}
		if res, body := get(t, client, g.url("/new"), nil); res.StatusCode != http.StatusOK || body != "B" {
			t.Errorf("GET /new %s = %d %q; want 200 B (the added route)", when, res.StatusCode, body)
		}
		if res, body := get(t, client, g.url("/other"), nil); res.StatusCode != http.StatusOK || body != "other" {
			t.Errorf("GET /other %s = %d %q; want 200 other (an unchanged route)", when, res.StatusCode, body)
		}
	}
	afterReload("after the reload")
	if line := lastLine(logs.String(), "needs a restart"); line != "" {
		t.Errorf("a reload that changed only routes warned: %s", line)
	}

	// Broken configs: the reload fails, is logged, and changes nothing.
	broken := []struct {
		name string
		cfg  string
		want string // in the logged error
	}{
		{name: "fail-yaml-syntax", cfg: routesTo(a, other, "") + "routes: [\n", want: "invalid YAML"},
		{name: "fail-undefined-pool", cfg: routesTo(a, other, `  - name: bad
    path: /bad
    upstream: billing
`), want: `routes[2].upstream: \"billing\" is not defined under upstreams`},
		{name: "fail-ambiguous-routes", cfg: routesTo(a, other, `  - name: twin
    path: /a
    auth: public
    upstream: `+a.URL+"\n"), want: "routes[2]"},
	}
	for _, tt := range broken {
		t.Run(tt.name, func(t *testing.T) {
			before := strings.Count(logs.String(), "reload failed")
			g.write(tt.cfg)
			rs.reload <- struct{}{}
			testenv.WaitFor(t, "the failed reload to be logged", func() bool {
				return strings.Count(logs.String(), "reload failed") > before
			})
			line := lastLine(logs.String(), "reload failed")
			if !strings.Contains(line, tt.want) {
				t.Errorf("reload log = %s; want it to name %q", line, tt.want)
			}
			afterReload("after a failed reload")
		})
	}
}

// lastLine returns the last line of s that contains sub.
func lastLine(s, sub string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return lines[i]
		}
	}
	return ""
}

// TestRestartOnlyChanges: a reload warns about exactly the sections it
// cannot apply, and about nothing when they are unchanged.
func TestRestartOnlyChanges(t *testing.T) {
	g := newTestGateway(t)
	routes := "routes:\n  - path: /\n    upstream: builtin:echo\n"
	load := func(t *testing.T, body string) *Config {
		t.Helper()
		cfg, err := Load(g.write(body))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		return cfg
	}
	tests := []struct {
		name  string
		tls   string
		body  string
		want  []string
		plain bool
	}{
		{name: "ok-unchanged", body: routes},
		{name: "ok-routes-only", body: "routes:\n  - path: /other\n    upstream: builtin:echo\n"},
		{name: "ok-trusted-proxies-and-headers", body: "trusted_proxies: [10.0.0.0/8]\nidentity_headers:\n  assertion: X-Auth-Jwt\n" + routes},
		{name: "fail-hsts", tls: "  hsts: max-age=60\n", body: routes, want: []string{"tls"}},
		{name: "fail-limits", body: "limits:\n  read_header_timeout: 3s\n" + routes, want: []string{"limits"}},
		{name: "fail-auth-api", body: "auth_api:\n  cookie_name: other\n" + routes, want: []string{"database, redis, tokens, accounts or auth_api"}},
		{name: "fail-oauth2", body: "oauth2:\n  clients:\n    - {id: app, public: true, redirect_uris: [\"https://app.example/cb\"]}\n" + routes, want: []string{"oauth2"}},
		{name: "fail-log", body: "log:\n  level: debug\n" + routes, want: []string{"log"}},
		{name: "fail-runtime", body: "runtime:\n  gogc: 200\n" + routes, want: []string{"runtime"}},
		{name: "fail-listen", plain: true, body: routes, want: []string{"listen", "tls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.tlsExtra, g.plain = "", false
			before := load(t, routes)
			g.tlsExtra, g.plain = tt.tls, tt.plain
			after := load(t, tt.body)
			if got := restartOnlyChanges(before, after); !slices.Equal(got, tt.want) {
				t.Errorf("restartOnlyChanges = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestReloadIdentityHeaders: identity_headers take effect on reload,
// the assertion header included.
func TestReloadIdentityHeaders(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	logs := &logBuffer{}
	body := func(headers string) string {
		return headers + "routes:\n  - path: /\n    auth: required\n    upstream: " + b.URL + "\n"
	}
	cfgFile := g.write(body(""))
	g.logTo = logs
	rs := g.run(cfgFile)
	token := mintToken(t, cfgFile, tokens.IssueInput{SessionID: "s", Username: "alice"}, "9")
	client := g.client(false)
	reload := func(headers string) {
		t.Helper()
		n := strings.Count(logs.String(), "configuration reloaded")
		g.write(body(headers))
		rs.reload <- struct{}{}
		testenv.WaitFor(t, "the reload", func() bool { return strings.Count(logs.String(), "configuration reloaded") > n })
	}
	check := func(when string, want map[string]bool) {
		t.Helper()
		res, b0 := get(t, client, g.url("/x"), http.Header{"Authorization": {"Bearer " + token}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /x %s = %d %s; want 200", when, res.StatusCode, b0)
		}
		h := b.last(t).Header
		for name, present := range want {
			if got := h.Get(name) != ""; got != present {
				t.Errorf("%s: backend got %s = %q; want present=%t", when, name, h.Get(name), present)
			}
		}
	}
	check("at start", map[string]bool{"X-Auth-User": true, "X-Auth-Jwt": false, "X-User": false})
	reload("identity_headers:\n  username: X-User\n  assertion: X-Auth-Jwt\n")
	check("after turning the assertion on", map[string]bool{"X-Auth-User": false, "X-User": true, "X-Auth-Jwt": true})
	reload("")
	check("after turning it off again", map[string]bool{"X-Auth-User": true, "X-Auth-Jwt": false, "X-User": false})
}

// TestReloadRetiresRemovedTargets: a target a reload removes disappears
// from /metrics, instead of reporting the health it had at the reload
// for as long as the process lives; the targets kept report the new
// pool's state.
func TestReloadRetiresRemovedTargets(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	g := newTestGateway(t)
	logs := &logBuffer{}
	body := func(targets ...string) string {
		return fmt.Sprintf(`upstreams:
  app:
    targets: [%s]
    health_check: {path: /healthz, interval: 1h}
routes:
  - path: /
    auth: public
    upstream: app
  - path: /direct
    auth: public
    upstream: %s
`, strings.Join(targets, ", "), a.URL)
	}
	g.logTo = logs
	rs := g.start(body(a.URL, b.URL))
	b.Close() // b dies and is ejected: its series says 0
	client := g.client(false)
	testenv.WaitFor(t, "b to be ejected", func() bool {
		get(t, client, g.url("/x"), nil)
		return healthy(t, g, b.URL) == 0
	})

	n := strings.Count(logs.String(), "configuration reloaded")
	g.write(body(a.URL))
	rs.reload <- struct{}{}
	testenv.WaitFor(t, "the reload", func() bool { return strings.Count(logs.String(), "configuration reloaded") > n })
	if got := healthy(t, g, b.URL); got != -1 {
		t.Errorf("authgate_upstream_target_healthy for removed target b = %d; want no series", got)
	}
	if got := healthy(t, g, a.URL); got != 1 {
		t.Errorf("authgate_upstream_target_healthy for kept target a = %d; want 1", got)
	}
	if res, body := get(t, client, g.url("/direct"), nil); res.StatusCode != http.StatusOK || body != "a" {
		t.Errorf("GET /direct after the reload = %d %q; want 200 a", res.StatusCode, body)
	}
}
