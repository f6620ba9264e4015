package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// TestRegisterFloodLatency measures what a flood of registrations does to
// the protected route (issue 16, finding 5: 16 connections registering
// pushed a login from 0.22 s to 2 s). authgate runs as its own process at
// the default bcrypt cost (12), on SQLite with the embedded denylist, as
// the first-run demo does, with loopback as a trusted proxy so that a
// flood can come "from" many addresses. The test measures protected-GET
// latency (sequential keep-alive requests with a bearer token) idle, then
// under each flood, and prints them with the answers the flood got and a
// legitimate login's time. A flood answered at once (429, 409) becomes a
// flood of cheap requests, thousands a second from the same two cores; the
// control phase floods GET /auth/jwks.json the same way, to tell what the
// request rate costs from what registration costs. It asserts nothing
// about time; it runs only when asked:
//
//	AUTHGATE_TIMING_TEST=1 go test -run TestRegisterFloodLatency -v -timeout 10m ./bench/
//
// AUTHGATE_FLOOD_SECONDS sets each flood's length (default 15),
// AUTHGATE_FLOOD_GETS the GETs measured per phase (default 400).
func TestRegisterFloodLatency(t *testing.T) {
	if os.Getenv("AUTHGATE_TIMING_TEST") == "" {
		t.Skip("set AUTHGATE_TIMING_TEST=1 to measure protected-route latency under a registration flood")
	}
	floodFor := time.Duration(envInt(t, "AUTHGATE_FLOOD_SECONDS", 15)) * time.Second
	gets := envInt(t, "AUTHGATE_FLOOD_GETS", 400)

	dir := t.TempDir()
	bin := filepath.Join(dir, "authgate")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/authgate/authgate").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	back := newBackend(t)
	g := &gw{dir: t.TempDir()}
	o := gwOptions{bcrypt: 12, extraYAML: "trusted_proxies: [127.0.0.1]\n"}
	g.cfgFile, _ = gatewayConfig(t, g.dir, back.URL, o)
	_, logFile := startProcess(t, withoutEnv(os.Environ(), "GOGC", "GOMEMLIMIT"), bin, "serve", "--config", g.cfgFile)
	g.base = baseURL(o, loggedListeners(t, logFile))
	client := newClient(t)
	testenv.WaitFor(t, "the gateway to serve", func() bool {
		res, err := client.Get(g.base + "/public/x")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	const password = "flood-test-passphrase-4711"
	register(t, client, g.base, "legit", password)
	register(t, client, g.base, "taken", password)
	token := g.mint(t, "flood-session")

	idle := measureGets(t, client, g.base+"/api/items", token, gets)
	t.Logf("%-52s %s", "idle", idle)
	registration := func(name func(i int64) (username, forwardedFor string)) func(ctx context.Context, i int64) string {
		return func(ctx context.Context, i int64) string {
			username, xff := name(i)
			return registerOnce(ctx, client, g.base, username, password, xff)
		}
	}
	phases := []struct {
		name  string
		conns int
		send  func(ctx context.Context, i int64) string // one request; its status
	}{
		{"16 connections, one address, new names", 16, registration(func(i int64) (string, string) {
			return fmt.Sprintf("one%d", i), ""
		})},
		{"16 connections, many addresses, new names", 16, registration(func(i int64) (string, string) {
			return fmt.Sprintf("many%d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		})},
		{"48 connections, many addresses, an existing name", 48, registration(func(i int64) (string, string) {
			return "taken", fmt.Sprintf("10.%d.%d.%d", 100+i>>16&127, i>>8&255, i&255)
		})},
		{"control: 16 connections, GET /auth/jwks.json", 16, func(ctx context.Context, _ int64) string {
			return sendOnce(ctx, client, http.MethodGet, g.base+"/auth/jwks.json", "", "")
		}},
		{"control: 48 connections, GET /auth/jwks.json", 48, func(ctx context.Context, _ int64) string {
			return sendOnce(ctx, client, http.MethodGet, g.base+"/auth/jwks.json", "", "")
		}},
	}
	for _, ph := range phases {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var n atomic.Int64
		var mu sync.Mutex
		answers := map[string]int{}
		for range ph.conns {
			wg.Go(func() {
				for ctx.Err() == nil {
					status := ph.send(ctx, n.Add(1))
					mu.Lock()
					answers[status]++
					mu.Unlock()
				}
			})
		}
		// Let the flood build up, measure while it runs, then one login.
		// (The flood's length is the measurement, not synchronisation.)
		time.Sleep(2 * time.Second)
		under := measureGets(t, client, g.base+"/api/items", token, gets)
		start := time.Now()
		_, loginErr := login(client, g.base, "legit", password)
		loginTook := time.Since(start)
		time.Sleep(time.Until(start.Add(floodFor)))
		cancel()
		wg.Wait()
		loginResult := "200"
		if loginErr != nil {
			loginResult = loginErr.Error()
		}
		t.Logf("%-52s %s (×%.2f p50, ×%.2f p99)", ph.name, under,
			float64(under.p50)/float64(idle.p50), float64(under.p99)/float64(idle.p99))
		t.Logf("%-52s flood answers %v; a legitimate login took %v: %s", "", answers, loginTook.Round(time.Millisecond), loginResult)
	}
}

// latencies summarises a phase's GETs.
type latencies struct{ p50, p90, p99, max time.Duration }

func (l latencies) String() string {
	r := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("p50 %s p90 %s p99 %s max %s", r(l.p50), r(l.p90), r(l.p99), r(l.max))
}

// measureGets sends n protected GETs one after another and returns their
// latency distribution.
func measureGets(t *testing.T, c *http.Client, url, token string, n int) latencies {
	t.Helper()
	ds := make([]time.Duration, 0, n)
	for range n {
		req := get(t, url, token)
		start := time.Now()
		do(t, c, req)
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	return latencies{p50: at(0.50), p90: at(0.90), p99: at(0.99), max: ds[len(ds)-1]}
}

// registerOnce posts one registration and returns its status (or
// "error").
func registerOnce(ctx context.Context, c *http.Client, base, username, password, forwardedFor string) string {
	body := fmt.Sprintf(`{"username":%q,"email":%q,"password":%q}`, username, username+"@example.com", password)
	return sendOnce(ctx, c, http.MethodPost, base+"/auth/register", body, forwardedFor)
}

// sendOnce sends one request (a JSON body if body is not empty) and
// returns its status, or "error".
func sendOnce(ctx context.Context, c *http.Client, method, url, body, forwardedFor string) string {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return "error"
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	res, err := c.Do(req)
	if err != nil {
		return "error"
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return fmt.Sprint(res.StatusCode)
}
