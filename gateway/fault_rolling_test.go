package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// lbTarget is one gateway behind the test load balancer.
type lbTarget struct {
	name    string
	addrs   atomic.Pointer[lbAddrs]
	healthy atomic.Bool
}

// lbAddrs is where a target is: set when it starts, changed only if it
// had to restart on other ports.
type lbAddrs struct {
	base   string // http://127.0.0.1:port of its public listener
	readyz string // its ops /readyz URL
}

// setAddrs points the balancer at the gateway last started on g.
func (tg *lbTarget) setAddrs(g *testGateway) {
	tg.addrs.Store(&lbAddrs{base: "http://" + g.httpAddr(), readyz: g.opsURL("/readyz")})
}

// testLB is a small HTTP load balancer that behaves like the usual ones:
// it sends requests round robin to the targets whose /readyz answered 200
// at the last check (every 50 ms), takes a target out at once when a
// connection to it fails, and then retries the request on another
// target; when every target is out, it waits for the next check. It
// answers 502 only when no target could take the request.
type testLB struct {
	*httptest.Server
	targets []*lbTarget
	tr      *http.Transport
	next    atomic.Uint64
	retries atomic.Int64

	checkMu sync.Mutex
	checked chan struct{} // closed, and replaced, after each round of checks
}

func newTestLB(t *testing.T, targets ...*lbTarget) *testLB {
	t.Helper()
	lb := &testLB{targets: targets, tr: &http.Transport{MaxIdleConnsPerHost: 32}, checked: make(chan struct{})}
	t.Cleanup(lb.tr.CloseIdleConnections)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	check := &http.Client{Timeout: 500 * time.Millisecond}
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, tg := range targets {
				res, err := check.Get(tg.addrs.Load().readyz)
				ok := err == nil && res.StatusCode == http.StatusOK
				if err == nil {
					res.Body.Close()
				}
				tg.healthy.Store(ok)
			}
			lb.checkMu.Lock()
			close(lb.checked)
			lb.checked = make(chan struct{})
			lb.checkMu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	lb.Server = httptest.NewServer(http.HandlerFunc(lb.serve))
	t.Cleanup(lb.Close)
	return lb
}

func (lb *testLB) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tried := map[*lbTarget]bool{}
	for attempt := 0; attempt < 2*len(lb.targets); attempt++ {
		tg := lb.pick(tried)
		if tg == nil {
			// Every target is out: wait for the next round of checks.
			lb.checkMu.Lock()
			checked := lb.checked
			lb.checkMu.Unlock()
			select {
			case <-checked:
			case <-r.Context().Done():
				return
			}
			continue
		}
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, tg.addrs.Load().base+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		res, err := lb.tr.RoundTrip(out)
		if err != nil {
			// Passive health check: out until /readyz says otherwise.
			tg.healthy.Store(false)
			tried[tg] = true
			lb.retries.Add(1)
			continue
		}
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
		res.Body.Close()
		return
	}
	http.Error(w, "no target could take the request", http.StatusBadGateway)
}

func (lb *testLB) pick(tried map[*lbTarget]bool) *lbTarget {
	n := len(lb.targets)
	start := int(lb.next.Add(1))
	for i := range n {
		tg := lb.targets[(start+i)%n]
		if tg.healthy.Load() && !tried[tg] {
			return tg
		}
	}
	return nil
}

// TestRollingRestart restarts two gateway instances one after the other —
// stop (as SIGTERM does), start again on the same ports — behind a load
// balancer that health-checks /readyz, while clients keep sending
// protected, public and account requests. With limits.shutdown_delay, an
// instance says it is not ready before it closes its ports, so the
// balancer stops sending first: no request fails. The balancer's retries
// after a failed connection are counted and logged (they are what a
// balancer without /readyz checks would have to rely on).
func TestRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts gateways under load")
	}
	dbURL := testenv.PostgresURL(t)
	redisURL, prefix := testenv.RedisURL(t)
	b := newBackend(t, "app")

	body := fmt.Sprintf("redis:\n  url: %s\n  key_prefix: %q\nlimits:\n  shutdown_delay: 300ms\n", redisURL, prefix) + faultRoutes(b)
	type instance struct {
		g  *testGateway
		s  *runningServer
		tg *lbTarget
	}
	var insts []*instance
	for _, name := range []string{"A", "B"} {
		g := newTestGateway(t)
		g.plain, g.dbURL = true, dbURL
		insts = append(insts, &instance{g: g, tg: &lbTarget{name: name}})
	}
	// Started one after the other: both would migrate the fresh database.
	for _, in := range insts {
		in.s = in.g.start(body)
		in.tg.setAddrs(in.g)
	}
	lb := newTestLB(t, insts[0].tg, insts[1].tg)
	testenv.WaitFor(t, "both instances in rotation", func() bool { return insts[0].tg.healthy.Load() && insts[1].tg.healthy.Load() })

	c := &http.Client{Timeout: 30 * time.Second}
	const password = "rolling-restart-passphrase-1"
	registerUser(t, c, lb.URL, "erin", password)
	pair := loginUser(t, c, lb.URL, "erin", password)

	load := newLoadRecorder()
	for range 2 {
		load.run("app", c, getRequestFn(lb.URL+"/app/x", withBearer(pair.access)))
		load.run("pub", c, getRequestFn(lb.URL+"/pub/x", nil))
		load.run("me", c, getRequestFn(lb.URL+"/auth/me", withBearer(pair.access)))
	}
	load.awaitMore(t, "before the restarts", 10)
	for _, in := range insts {
		stopped := time.Now()
		if err := in.s.stop(); err != nil {
			t.Fatalf("stop %s: %v", in.tg.name, err)
		}
		t.Logf("instance %s stopped in %v", in.tg.name, time.Since(stopped))
		load.awaitMore(t, "with the other instance alone", 10)
		in.s = restartOnSamePorts(t, in.g, body)
		in.tg.setAddrs(in.g)
		testenv.WaitFor(t, "instance "+in.tg.name+" back in rotation", in.tg.healthy.Load)
		load.awaitMore(t, "with both instances again", 10)
	}
	load.halt()

	outs := load.snapshot()
	t.Logf("outcomes: %s; load balancer retries after a failed connection: %d", outcomeCounts(outs), lb.retries.Load())
	failed := 0
	for _, o := range outs {
		if o.err != nil || o.status != http.StatusOK {
			failed++
			if failed <= 10 {
				t.Errorf("%s at %v = %d, %v; want 200: a rolling restart must cost no request", o.name, o.start.Format("15:04:05.000"), o.status, o.err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, len(outs))
	}
	if len(outs) < 100 {
		t.Errorf("only %d requests were made; the test did not load the gateways", len(outs))
	}
}

// restartOnSamePorts starts the gateway of g again on the ports it had.
// The ports were free only since it stopped, so another test's server may
// have taken one meanwhile: then it starts on new ports (port 0), as it
// would on another machine, and says so.
func restartOnSamePorts(t *testing.T, g *testGateway, body string) *runningServer {
	t.Helper()
	g.samePorts = true
	defer func() { g.samePorts = false }()
	rs, err := g.tryRun(g.write(body))
	if err == nil {
		return rs
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatal(err)
	}
	t.Logf("restarting on new ports: %v", err)
	g.samePorts = false
	return g.start(body)
}
