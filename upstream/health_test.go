package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
)

// TestKilledTargetIsEjected closes one of three backends under a stream of
// requests: it must be ejected without any client seeing a 5xx, get no
// traffic while out, and come back once something listens on its address
// again and passes the active check.
func TestKilledTargetIsEjected(t *testing.T) {
	tests := []struct {
		name   string
		health HealthCheck
	}{
		// Only a request's failed connection can take the target out.
		{name: "ok-passive-only"},
		// The active check races the requests, and brings it back.
		{name: "ok-with-active-check", health: HealthCheck{Path: "/healthz", Interval: conf.Duration(20 * time.Millisecond), Timeout: conf.Duration(time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testKilledTarget(t, tt.health) })
	}
}

func testKilledTarget(t *testing.T, health HealthCheck) {
	var servers []*httptest.Server
	var targets []string
	for _, name := range []string{"A", "B", "C"} {
		s := newBackend(t, recordingHandler(name))
		servers = append(servers, s)
		targets = append(targets, s.URL)
	}
	reg := prometheus.NewRegistry()
	u, _ := newTestUpstreams(t, Config{Upstreams: map[string]PoolConfig{"app": {
		Targets:     targets,
		HealthCheck: HealthCheck{Path: health.Path},
	}}}, reg)
	if health.Path != "" {
		checkEvery(t, u, "app", health.Interval.D(), health.Timeout.D())
	}
	runUpstreams(t, u)
	p := poolOf(t, u, "app")
	victim := p.targets[1]
	front := newFrontend(t, mustHandler(t, u, "app", Route{}), gatewayForward)

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		done     [4]atomic.Int64 // answered requests per worker
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	total := func() (n int64) {
		for i := range done {
			n += done[i].Load()
		}
		return n
	}
	for i := range done {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := front.Client().Get(front.URL + "/")
				if err != nil {
					t.Errorf("GET: %v", err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				statuses[res.StatusCode]++
				mu.Unlock()
				done[i].Add(1)
			}
		})
	}
	// Failed attempts are observed as code="error"; ones the retry hid
	// included.
	failedAttempts := func() float64 {
		return metricValue(t, reg, "authgate_upstream_request_duration_seconds", map[string]string{"pool": "app", "code": "error"})
	}

	testenv.WaitFor(t, "100 requests were answered", func() bool { return total() >= 100 })
	servers[1].Close()
	// Whichever notices first, a request's failed connection or the
	// active check, takes the target out.
	testenv.WaitFor(t, "the closed target is out of rotation", func() bool { return !victim.Healthy() })
	// Once every worker has finished a request begun after the ejection,
	// nothing sent before it is still under way.
	var mark [4]int64
	for i := range done {
		mark[i] = done[i].Load()
	}
	testenv.WaitFor(t, "every worker finished a request after the ejection", func() bool {
		for i := range done {
			if done[i].Load() <= mark[i] {
				return false
			}
		}
		return true
	})
	failedAtEjection := failedAttempts()
	after := total()
	testenv.WaitFor(t, "200 more requests were answered", func() bool { return total() >= after+200 })
	close(stop)
	wg.Wait()

	mu.Lock()
	if len(statuses) != 1 || statuses[http.StatusOK] == 0 {
		t.Errorf("statuses %v; want only 200: a killed target must cost no client a 5xx", statuses)
	}
	mu.Unlock()
	if got := failedAttempts(); got != failedAtEjection {
		t.Errorf("%v failed attempts after the ejection; want 0: an ejected target gets no traffic", got-failedAtEjection)
	}
	if got := metricValue(t, reg, "authgate_upstream_target_healthy", map[string]string{"target": victim.name}); got != 0 {
		t.Errorf("authgate_upstream_target_healthy{B} = %v; want 0", got)
	}

	if health.Path == "" {
		if got := metricValue(t, reg, "authgate_upstream_ejections_total", map[string]string{"target": victim.name}); got != 1 {
			t.Errorf("authgate_upstream_ejections_total{B} = %v; want 1", got)
		}
		return
	}

	// Something listens on the address again: the active check brings
	// the target back.
	l, err := net.Listen("tcp", strings.TrimPrefix(victim.name, "http://"))
	if err != nil {
		t.Fatalf("listen again on %s: %v", victim.name, err)
	}
	revived := &httptest.Server{Listener: l, Config: &http.Server{Handler: recordingHandler("B2")}}
	revived.Start()
	t.Cleanup(revived.Close)
	testenv.WaitFor(t, "the target is healthy again", victim.Healthy)
	back := 0
	for range 30 {
		code, body := get(t, front.Client(), front.URL+"/")
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		if decodeReceived(t, body).Backend == "B2" {
			back++
		}
	}
	if back != 10 {
		t.Errorf("revived target got %d of 30 round-robin requests; want 10", back)
	}
}

// TestPassiveEjection runs without active checks and with a test clock:
// a target whose connection fails is out for the cool-down, then tried
// again.
func TestPassiveEjection(t *testing.T) {
	alive := newBackend(t, recordingHandler("alive"))
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // nothing listens here any more
	reg := prometheus.NewRegistry()
	u, el := newTestUpstreams(t, Config{Upstreams: map[string]PoolConfig{"app": {
		Targets: []string{dead.URL + "/dead-base", alive.URL},
	}}}, reg)
	p := poolOf(t, u, "app")
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	p.now = func() time.Time { return time.Unix(0, now.Load()) }
	h := mustHandler(t, u, "app", Route{})
	deadT := p.targets[0]
	ejections := func() float64 {
		return metricValue(t, reg, "authgate_upstream_ejections_total", map[string]string{"pool": "app", "target": deadT.name})
	}

	serve := func(method string, body string) (int, string) {
		var req *http.Request
		if body == "" {
			req = httptest.NewRequest(method, "/x", nil)
		} else {
			req = httptest.NewRequest(method, "/x", strings.NewReader(body))
		}
		w := httptest.NewRecorder()
		h.Serve(w, req, &Forward{Path: "/x"})
		if w.Code != http.StatusOK {
			return w.Code, ""
		}
		got := decodeReceived(t, w.Body.Bytes())
		if got.RequestURI != "/x" {
			t.Errorf("%s reached the backend as %q; want /x (no base path of the failed target)", method, got.RequestURI)
		}
		return w.Code, got.Backend
	}

	// Round robin picks the dead target first: the GET is retried on the
	// other one.
	if code, b := serve(http.MethodGet, ""); code != http.StatusOK || b != "alive" {
		t.Fatalf("first GET = %d from %q; want 200 from alive (retried)", code, b)
	}
	if deadT.Healthy() {
		t.Fatalf("dead target Healthy() = true after a refused connection; want false")
	}
	if got := ejections(); got != 1 {
		t.Errorf("ejections = %v; want 1", got)
	}
	for range 5 {
		if code, b := serve(http.MethodGet, ""); code != http.StatusOK || b != "alive" {
			t.Fatalf("GET while ejected = %d from %q; want 200 from alive", code, b)
		}
	}

	// After the cool-down the target is tried again: a POST without body
	// is retried too (the connection was never made, nothing was sent).
	now.Add(int64(passiveCooldown))
	if !deadT.Healthy() {
		t.Fatalf("dead target Healthy() = false after the cool-down; want true (tentatively)")
	}
	for range 2 { // one of the two picks is the dead target
		if code, b := serve(http.MethodPost, ""); code != http.StatusOK || b != "alive" {
			t.Fatalf("bodiless POST = %d from %q; want 200 from alive", code, b)
		}
	}
	if got := ejections(); got != 2 {
		t.Errorf("ejections = %v; want 2", got)
	}

	// A request with a body cannot be replayed: its failure reaches the
	// client.
	now.Add(int64(passiveCooldown))
	failed := 0
	for range 2 {
		if code, _ := serve(http.MethodPost, "payload"); code != http.StatusOK {
			failed++
			if err := el.last(); !errors.Is(err, problem.ErrUpstreamUnavailable) {
				t.Errorf("POST with body to dead target: error %v; want problem.ErrUpstreamUnavailable", err)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d of 2 POSTs with a body failed; want exactly the one sent to the dead target", failed)
	}
}

// TestActiveHealthCheck: a target whose check fails gets no traffic and
// returns once the check passes.
func TestActiveHealthCheck(t *testing.T) {
	var sick atomic.Bool
	flaky := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/base/healthz" {
			if r.Header.Get("User-Agent") != "authgate-health-check" {
				t.Errorf("health check User-Agent = %q", r.Header.Get("User-Agent"))
			}
			if sick.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			http.Redirect(w, r, "/elsewhere", http.StatusFound) // 3xx counts as healthy
			return
		}
		recordingHandler("flaky")(w, r)
	}))
	steady := newBackend(t, recordingHandler("steady"))
	u, _ := newTestUpstreams(t, Config{Upstreams: map[string]PoolConfig{"app": {
		Targets:     []string{flaky.URL + "/base", steady.URL},
		HealthCheck: HealthCheck{Path: "/healthz"},
	}}}, nil)
	checkEvery(t, u, "app", 10*time.Millisecond, time.Second)
	runUpstreams(t, u)
	p := poolOf(t, u, "app")
	h := mustHandler(t, u, "app", Route{})
	backends := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			w := httptest.NewRecorder()
			h.Serve(w, httptest.NewRequest(http.MethodGet, "/x", nil), &Forward{Path: "/x"})
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			got[decodeReceived(t, w.Body.Bytes()).Backend]++
		}
		return got
	}

	sick.Store(true)
	testenv.WaitFor(t, "the failing check takes the target out", func() bool { return !p.targets[0].Healthy() })
	if got := backends(10); got["flaky"] != 0 {
		t.Errorf("unhealthy target got %d requests; want 0", got["flaky"])
	}
	sick.Store(false)
	testenv.WaitFor(t, "the passing check brings the target back", p.targets[0].Healthy)
	if got := backends(10); got["flaky"] == 0 {
		t.Errorf("target back in rotation got no requests of 10: %v", got)
	}
}

func TestNoHealthyTarget(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	u, el := newTestUpstreams(t, testConfig(), nil)
	h := mustHandler(t, u, dead.URL, Route{})
	serve := func() int {
		w := httptest.NewRecorder()
		h.Serve(w, httptest.NewRequest(http.MethodGet, "/", nil), &Forward{Path: "/"})
		return w.Code
	}
	if code := serve(); code != http.StatusBadGateway || !errors.Is(el.last(), problem.ErrUpstreamUnavailable) {
		t.Errorf("first request to a dead single target: %d, %v; want 502, problem.ErrUpstreamUnavailable", code, el.last())
	}
	if code := serve(); code != http.StatusBadGateway || !errors.Is(el.last(), problem.ErrNoHealthyTarget) {
		t.Errorf("request while its only target is ejected: %d, %v; want 502, problem.ErrNoHealthyTarget", code, el.last())
	}
}

func TestRunReturnsOnCancel(t *testing.T) {
	back := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	u, _ := newTestUpstreams(t, Config{Upstreams: map[string]PoolConfig{"app": {
		Targets:     []string{back.URL},
		HealthCheck: HealthCheck{Path: "/"},
	}}}, nil)
	checkEvery(t, u, "app", time.Millisecond, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	testenv.WaitFor(t, "Run is running", u.running.Load)
	if err := u.Run(ctx); err == nil {
		t.Errorf("second concurrent Run() = nil; want an error")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v; want nil after cancel", err)
	}
}

// checkEvery makes pool name of u check every interval, each check
// waiting up to timeout: faster than a config may say (there the timeout
// must be shorter than the interval), and with a timeout that a check
// under -race on a loaded machine stays within. Call it before Run.
func checkEvery(t *testing.T, u *Upstreams, name string, interval, timeout time.Duration) {
	t.Helper()
	p := poolOf(t, u, name)
	p.interval, p.timeout, p.cooldown = interval, timeout, interval
}
