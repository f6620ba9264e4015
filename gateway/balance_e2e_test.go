package gateway

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

// TestRoundRobinThroughGateway spreads requests over a pool of three real
// backends, then kills one while a steady stream of requests runs: the
// gateway ejects it and retries on another target, so no client sees a
// failure.
func TestRoundRobinThroughGateway(t *testing.T) {
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	g := newTestGateway(t)
	// The active check runs once at start and then not again during the
	// test, so an ejected target stays out (a passive ejection with an
	// active check lasts until a check passes) and the counts below do not
	// depend on how fast the machine is.
	g.start(fmt.Sprintf(`upstreams:
  app:
    targets: [%s, %s, %s]
    balance: round_robin
    health_check: {path: /healthz, interval: 1h}
routes:
  - name: app
    path: /
    auth: public
    upstream: app
`, a.URL, b.URL, c.URL))
	client := g.client(false)
	testenv.WaitFor(t, "the pool's health series", func() bool {
		return healthy(t, g, c.URL) == 1 && healthy(t, g, a.URL) == 1 && healthy(t, g, b.URL) == 1
	})

	const n = 300
	for range n {
		if res, body := get(t, client, g.url("/rr"), nil); res.StatusCode != http.StatusOK {
			t.Fatalf("GET /rr = %d %q; want 200", res.StatusCode, body)
		}
	}
	for _, be := range []*backend{a, b, c} {
		// Health checks reach the backends too; only /rr counts.
		if got := countPath(be, "/rr"); got != n/3 {
			t.Errorf("backend %s served %d of %d requests; want %d (round robin)", be.name, got, n, n/3)
		}
	}

	// A steady stream from 4 clients; c dies in the middle of it.
	var (
		done                 = make(chan struct{})
		once                 sync.Once
		wg                   sync.WaitGroup
		total, failed, fives atomic.Int64
		firstErr             atomic.Value
	)
	stop := func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
	t.Cleanup(stop)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				total.Add(1)
				res, err := client.Get(g.url("/stream"))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", res.StatusCode))
					if res.StatusCode >= 500 {
						fives.Add(1)
					}
				}
			}
		})
	}
	testenv.WaitFor(t, "the stream to reach every backend", func() bool {
		return countPath(a, "/stream") > 20 && countPath(b, "/stream") > 20 && countPath(c, "/stream") > 20
	})
	c.Close() // waits for c's in-flight requests; later connections are refused
	testenv.WaitFor(t, "the gateway to eject the dead target", func() bool { return healthy(t, g, c.URL) == 0 })
	atEjection := total.Load()
	testenv.WaitFor(t, "200 more requests after the ejection", func() bool { return total.Load() > atEjection+200 })
	stop()
	t.Logf("stream: %d requests (%d after the ejection), %d failed, %d of them 5xx; served a=%d b=%d c=%d (then killed)",
		total.Load(), total.Load()-atEjection, failed.Load(), fives.Load(),
		countPath(a, "/stream"), countPath(b, "/stream"), countPath(c, "/stream"))
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed while a target died (first: %v); want 0: a connection failure is retried on another target",
			failed.Load(), total.Load(), firstErr.Load())
	}

	// With c out, the two left share the load evenly.
	ab := []int{countPath(a, "/even"), countPath(b, "/even")}
	for range 100 {
		if res, body := get(t, client, g.url("/even"), nil); res.StatusCode != http.StatusOK || body == "c" {
			t.Fatalf("GET /even = %d %q; want 200 from a or b", res.StatusCode, body)
		}
	}
	if da, db := countPath(a, "/even")-ab[0], countPath(b, "/even")-ab[1]; da != 50 || db != 50 {
		t.Errorf("after the ejection a served %d and b %d of 100; want 50 each", da, db)
	}
}

// countPath counts the requests for path a backend received.
func countPath(b *backend, path string) int {
	n := 0
	for _, r := range b.requests() {
		if r.RequestURI == path {
			n++
		}
	}
	return n
}

// healthy reads authgate_upstream_target_healthy for target from the ops
// listener's /metrics: 1, 0, or -1 when the series is missing.
func healthy(t testing.TB, g *testGateway, target string) int {
	t.Helper()
	for _, line := range metricLines(t, g) {
		if strings.HasPrefix(line, "authgate_upstream_target_healthy{") && strings.Contains(line, `target="`+target+`"`) {
			switch {
			case strings.HasSuffix(line, " 1"):
				return 1
			case strings.HasSuffix(line, " 0"):
				return 0
			}
		}
	}
	return -1
}

// metricLines returns the lines of the ops listener's /metrics.
func metricLines(t testing.TB, g *testGateway) []string {
	t.Helper()
	res, err := http.Get(g.opsURL("/metrics"))
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	var lines []string
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}
