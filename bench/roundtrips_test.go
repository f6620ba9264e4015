package bench

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// TestProtectedRouteStoreRoundTrips: in steady state a request to a
// protected route makes no PostgreSQL and no Redis round trip, and nor
// does a forward-auth check of the same route (GET /auth/verify from a
// trusted proxy, the original request in X-Original-URL). The gateway
// reaches both through counting relays; after one warm-up request, 2,000
// protected requests must add no PostgreSQL message and no Redis command
// except the denylist subscription's liveness PINGs, and no more of those
// than the same gateway sends when idle for as long as the burst took.
// (No timing is asserted: the idle interval is as long as the burst was,
// whatever that was.)
func TestProtectedRouteStoreRoundTrips(t *testing.T) {
	pgURL := testenv.PostgresURL(t)
	redisURL, _ := testenv.RedisURL(t)
	pg := newRelay(t, hostOf(t, pgURL, "5432"), parsePostgres)
	rd := newRelay(t, hostOf(t, redisURL, "6379"), parseRedis)

	back := newBackend(t)
	g := startGateway(t, back.URL, gwOptions{
		alg:      "ES256",
		redis:    true,
		redisVia: rd.addr,
		database: viaHost(t, pgURL, pg.addr),
		// The client is the trusted proxy of the forward-auth checks.
		extraYAML: "trusted_proxies: [127.0.0.1/32]\n",
	})
	// Starting (migrations, loading keys) queries the database: the relay
	// must have seen and parsed that, or it could not see anything later.
	if at := pg.snapshot(); at["startup"] == 0 || sum(at, "startup", "X") == 0 {
		t.Fatalf("PostgreSQL messages at start = %v; want a connection and queries through the relay", at)
	}
	if n := sum(rd.snapshot()); n == 0 {
		t.Fatal("the gateway sent Redis no command through the relay")
	}
	client := newClient(t)
	token := g.mint(t, "roundtrip-session")
	t.Run("proxied", func(t *testing.T) {
		storeRoundTrips(t, pg, rd, client, func() *http.Request { return get(t, g.base+"/api/items", token) })
	})
	t.Run("forward-auth", func(t *testing.T) {
		storeRoundTrips(t, pg, rd, client, func() *http.Request { return check(t, g.base, "/api/items", token) })
	})
}

// storeRoundTrips sends requests made by newReq, 2,000 after a warm-up,
// and checks what they cost the stores behind pg and rd.
func storeRoundTrips(t *testing.T, pg, rd *relay, client *http.Client, newReq func() *http.Request) {
	const requests = 2000
	url := newReq().URL.String()
	do(t, client, newReq()) // warm-up: the token is verified and cached

	pg0, rd0 := pg.snapshot(), rd.snapshot()
	start := time.Now()
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			req := newReq()
			for sent.Add(1) <= requests {
				res, err := client.Do(req)
				if err != nil {
					t.Errorf("GET %s: %v", url, err)
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Errorf("GET %s = %d; want 200", url, res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	burst := time.Since(start)
	pg1, rd1 := pg.snapshot(), rd.snapshot()
	if t.Failed() {
		return
	}
	time.Sleep(burst) // the same gateway, idle, for as long as the burst took
	pg2, rd2 := pg.snapshot(), rd.snapshot()

	pgBurst, rdBurst, rdIdle := diff(pg0, pg1), diff(rd0, rd1), diff(rd1, rd2)
	t.Logf("%d requests in %s: PostgreSQL messages %v; Redis commands %v (idle for as long: %v)",
		requests, burst.Round(time.Millisecond), pgBurst, rdBurst, rdIdle)
	// Terminate ("X") is a pooled connection closing, not a round trip.
	if n := sum(pgBurst, "X"); n != 0 {
		t.Errorf("PostgreSQL messages during %d protected requests = %v; want none", requests, pgBurst)
	}
	if n := sum(rdBurst, "ping"); n != 0 {
		t.Errorf("Redis commands other than PING during %d protected requests = %v; want none", requests, rdBurst)
	}
	// A PING due just before or after the burst can fall on either side
	// of its edges: one either way.
	if pings, idle := rdBurst["ping"], rdIdle["ping"]; pings > idle+2 {
		t.Errorf("Redis PINGs during the burst = %d, idle for as long = %d; want no more than idle + 2", pings, idle)
	}
	if n := sum(diff(pg1, pg2), "X"); n != 0 {
		t.Errorf("PostgreSQL messages while idle = %v; want none", diff(pg1, pg2))
	}
}
