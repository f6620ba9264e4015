package upstream

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/internal/testenv"
)

// testTargets returns n targets of one pool; down lists the ones a health
// check has failed.
func testTargets(n int, down ...int) []*Target {
	p := &pool{now: time.Now}
	ts := make([]*Target, n)
	for i := range ts {
		ts[i] = &Target{pool: p, name: string(rune('a' + i))}
	}
	for _, i := range down {
		ts[i].down.Store(true)
	}
	return ts
}

func pickCounts(t *testing.T, b Balancer, ts []*Target, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		tg, err := b.Pick(ts)
		if err != nil {
			t.Fatalf("Pick() = %v; want a target", err)
		}
		got[tg.name]++
	}
	return got
}

func TestRoundRobin(t *testing.T) {
	tests := []struct {
		name string
		n    int
		down []int
		want map[string]int
	}{
		{name: "ok-all-healthy", n: 3, want: map[string]int{"a": 100, "b": 100, "c": 100}},
		// The targets after a down one must not inherit its share.
		{name: "ok-even-over-healthy", n: 3, down: []int{1}, want: map[string]int{"a": 150, "c": 150}},
		{name: "ok-single-healthy", n: 3, down: []int{0, 2}, want: map[string]int{"b": 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pickCounts(t, &RoundRobin{}, testTargets(tt.n, tt.down...), 300)
			if !mapsEqual(got, tt.want) {
				t.Errorf("Pick() x300 spread %v; want %v", got, tt.want)
			}
		})
	}
}

func TestLeastConn(t *testing.T) {
	tests := []struct {
		name     string
		inFlight []int64
		down     []int
		want     map[string]int
	}{
		{name: "ok-prefers-idle", inFlight: []int64{3, 0, 1}, want: map[string]int{"b": 30}},
		{name: "ok-skips-unhealthy-idle", inFlight: []int64{3, 0, 1}, down: []int{1}, want: map[string]int{"c": 30}},
		// Ties go round by the (here deterministic) random source.
		{name: "ok-ties-shared", inFlight: []int64{2, 2, 2}, want: map[string]int{"a": 10, "b": 10, "c": 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := testTargets(len(tt.inFlight), tt.down...)
			for i, n := range tt.inFlight {
				ts[i].inFlight.Store(n)
			}
			// Reservoir sampling keeps the k-th tied target when
			// intN(k) == 0: answer 0 for the target whose turn it is.
			turn := 0
			b := &LeastConn{intN: func(k int) int {
				if k-1 == turn%3 {
					return 0
				}
				return 1
			}}
			got := map[string]int{}
			for range 30 {
				tg, err := b.Pick(ts)
				if err != nil {
					t.Fatalf("Pick() = %v", err)
				}
				got[tg.name]++
				turn++
			}
			if !mapsEqual(got, tt.want) {
				t.Errorf("Pick() x30 with in-flight %v spread %v; want %v", tt.inFlight, got, tt.want)
			}
		})
	}
}

func TestRandom(t *testing.T) {
	t.Run("ok-covers-all", func(t *testing.T) {
		// The real source: the chance that 600 picks miss one of three
		// targets is below 1e-100.
		got := pickCounts(t, &Random{}, testTargets(3), 600)
		if len(got) != 3 {
			t.Errorf("Pick() x600 reached %v; want all of a, b, c", got)
		}
	})
	t.Run("ok-only-healthy", func(t *testing.T) {
		seq := 0
		b := &Random{intN: func(n int) int { seq++; return seq % n }}
		got := pickCounts(t, b, testTargets(3, 0), 10)
		if want := map[string]int{"b": 5, "c": 5}; !mapsEqual(got, want) {
			t.Errorf("Pick() x10 spread %v; want %v", got, want)
		}
	})
}

func TestBalancersNoHealthyTarget(t *testing.T) {
	for _, b := range []Balancer{&RoundRobin{}, &LeastConn{}, &Random{}} {
		if got, err := b.Pick(testTargets(2, 0, 1)); !errors.Is(err, problem.ErrNoHealthyTarget) {
			t.Errorf("%T.Pick(all down) = %v, %v; want problem.ErrNoHealthyTarget", b, got, err)
		}
	}
}

// TestProxyBalancing drives the balancers through the proxy against real
// backends.
func TestProxyBalancing(t *testing.T) {
	t.Run("ok-round-robin-spreads-evenly", func(t *testing.T) {
		cfg, names := poolConfig(t, 3, "round_robin")
		u, _ := newTestUpstreams(t, cfg, nil)
		front := newFrontend(t, mustHandler(t, u, "app", Route{}), gatewayForward)
		got := map[string]int{}
		for range 60 {
			code, body := get(t, front.Client(), front.URL+"/")
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			got[decodeReceived(t, body).Backend]++
		}
		want := map[string]int{names[0]: 20, names[1]: 20, names[2]: 20}
		if !mapsEqual(got, want) {
			t.Errorf("60 requests spread %v; want %v", got, want)
		}
	})
	t.Run("ok-least-conn-prefers-idle", func(t *testing.T) {
		release := make(chan struct{})
		busy := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				w.WriteHeader(http.StatusOK)
				http.NewResponseController(w).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			recordingHandler("busy")(w, r)
		}))
		idle := newBackend(t, recordingHandler("idle"))
		u, _ := newTestUpstreams(t, Config{Upstreams: map[string]PoolConfig{
			"app": {Targets: []string{busy.URL, idle.URL}, Balance: "least_conn"},
		}}, nil)
		p := poolOf(t, u, "app")
		// Ties go to the first target, busy: only the in-flight count of
		// the held request can send the others to idle.
		p.balancer.(*LeastConn).intN = func(int) int { return 1 }
		front := newFrontend(t, mustHandler(t, u, "app", Route{}), gatewayForward)
		res, err := front.Client().Get(front.URL + "/hold")
		if err != nil {
			t.Fatalf("GET /hold: %v", err)
		}
		defer res.Body.Close()
		if n := p.targets[0].InFlight(); n != 1 {
			t.Fatalf("busy target in flight = %d; want 1 while its response streams", n)
		}
		for range 10 {
			_, body := get(t, front.Client(), front.URL+"/")
			if b := decodeReceived(t, body).Backend; b != "idle" {
				t.Errorf("request went to %q; want idle while busy has one in flight", b)
			}
		}
		close(release)
		res.Body.Close()
		testenv.WaitFor(t, "the held request is counted out", func() bool { return p.targets[0].InFlight() == 0 })
		if n := p.targets[1].InFlight(); n != 0 {
			t.Errorf("idle target in flight = %d; want 0 once all responses are done", n)
		}
	})
}

// poolConfig starts n recording backends and returns a config with one
// pool "app" over them, and the backends' names in target order.
func poolConfig(t *testing.T, n int, balance string) (Config, []string) {
	t.Helper()
	cfg := testConfig()
	var targets, names []string
	for i := range n {
		name := string(rune('A' + i))
		s := newBackend(t, recordingHandler(name))
		targets = append(targets, s.URL)
		names = append(names, name)
	}
	cfg.Upstreams = map[string]PoolConfig{"app": {Targets: targets, Balance: balance}}
	return cfg, names
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
