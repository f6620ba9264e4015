package gateway

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// faultRoutes is a public and a protected route to b.
func faultRoutes(b *backend) string {
	return fmt.Sprintf(`routes:
  - name: pub
    path: /pub
    auth: public
    upstream: %[1]s
  - name: app
    path: /app
    auth: required
    upstream: %[1]s
`, b.URL)
}

// storeCall is one account-API request made while the database is down,
// with what it must answer.
type storeCall struct {
	name   string
	method string
	path   string
	body   any
	header http.Header
}

// TestFaultPostgresStopped stops the PostgreSQL under two gateways — one
// keeping its denylist in Redis, one in the database (no Redis) — and
// starts it again.
//
// While it is down, every account operation (register, login, refresh,
// me, logout) answers 503 problem+json promptly, never 500 and never a
// hang; nothing it was asked is half done (the refresh token presented
// meanwhile still works afterwards). Proxying goes on: with the Redis
// denylist, valid tokens pass; with the embedded one the gateway cannot
// learn of revocations, so once its trust lease (2 s) runs out protected
// routes fail closed (503) — public routes answer 200 throughout on both.
// When PostgreSQL is back, both recover without a restart.
func TestFaultPostgresStopped(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and stops a PostgreSQL cluster")
	}
	pg := startPrivatePostgres(t)
	redisURL, prefix := testenv.RedisURL(t)
	b := newBackend(t, "app")

	withRedis, embedded := newTestGateway(t), newTestGateway(t)
	withRedis.dbURL, embedded.dbURL = pg.url(), pg.url()
	withRedis.start(fmt.Sprintf("redis:\n  url: %s\n  key_prefix: %q\n", redisURL, prefix) + faultRoutes(b))
	embedded.start(faultRoutes(b))
	cr, ce := withRedis.client(false), embedded.client(false)
	base := withRedis.url("")

	const password = "fault-tolerant-passphrase-2"
	registerUser(t, cr, base, "bob", password)
	pair := loginUser(t, cr, base, "bob", password)
	for _, x := range []struct {
		g *testGateway
		c *http.Client
	}{{withRedis, cr}, {embedded, ce}} {
		if res, body := get(t, x.c, x.g.url("/app/x"), withBearer(pair.access)); res.StatusCode != http.StatusOK {
			t.Fatalf("GET /app before the fault = %d %q; want 200", res.StatusCode, body)
		}
	}

	load := newLoadRecorder()
	load.run("redis/app", cr, getRequestFn(withRedis.url("/app/x"), withBearer(pair.access)))
	load.run("redis/pub", cr, getRequestFn(withRedis.url("/pub/x"), nil))
	load.run("embedded/app", ce, getRequestFn(embedded.url("/app/x"), withBearer(pair.access)))
	load.run("embedded/pub", ce, getRequestFn(embedded.url("/pub/x"), nil))
	load.awaitMore(t, "before the fault", 10)

	pg.stop()
	stopped := time.Now()

	calls := []storeCall{
		{name: "register", method: http.MethodPost, path: "/auth/register",
			body: map[string]string{"username": "carol", "email": "carol@example.com", "password": password}},
		{name: "login", method: http.MethodPost, path: "/auth/login",
			body: map[string]string{"username": "bob", "password": password}},
		{name: "refresh", method: http.MethodPost, path: "/auth/refresh",
			body: map[string]string{"refresh_token": pair.refresh}},
		{name: "me", method: http.MethodGet, path: "/auth/me", header: withBearer(pair.access)},
	}
	for _, tt := range calls {
		t.Run("fail-"+tt.name+"-while-down", func(t *testing.T) {
			start := time.Now()
			status, ctype, body := callAuthAPI(t, cr, tt.method, withRedis.url(tt.path), tt.body, tt.header)
			took := time.Since(start)
			t.Logf("%s %s while PostgreSQL is down: %d in %v", tt.method, tt.path, status, took)
			if status != http.StatusServiceUnavailable || ctype != "application/problem+json" {
				t.Errorf("%s %s = %d %s %v; want 503 application/problem+json", tt.method, tt.path, status, ctype, body)
			}
			if took > 10*time.Second {
				t.Errorf("%s %s took %v; an outage must be answered promptly", tt.method, tt.path, took)
			}
		})
	}

	// Past the embedded denylist's trust lease.
	testenv.WaitFor(t, "the embedded denylist to fail closed", func() bool {
		_, ok := firstOutcome(load.snapshot(), stopped, func(o loadOutcome) bool {
			return o.name == "embedded/app" && o.status == http.StatusServiceUnavailable
		})
		return ok
	})
	untrusted, _ := firstOutcome(load.snapshot(), stopped, func(o loadOutcome) bool {
		return o.name == "embedded/app" && o.status == http.StatusServiceUnavailable
	})
	t.Logf("PostgreSQL stopped → first 503 from the embedded denylist: %v", untrusted.end.Sub(stopped))
	load.awaitMore(t, "while the embedded denylist fails closed", 10)

	// restarted is taken before the start, not after: pg_ctl returns some
	// time after the server accepts connections, and the embedded
	// gateway may have polled it and trusted its denylist again by then.
	// A 200 in between is no fault (and taking the time after the start
	// made the check below fail under load).
	restarted := time.Now()
	pg.start()
	var fresh loginPair
	testenv.WaitFor(t, "login to work again", func() bool {
		status, _, body := callAuthAPI(t, cr, http.MethodPost, base+"/auth/login",
			map[string]string{"username": "bob", "password": password}, nil)
		if status == http.StatusOK {
			fresh.access, _ = body["access_token"].(string)
		}
		return status == http.StatusOK
	})
	t.Logf("PostgreSQL started → first successful login: %v", time.Since(restarted))
	testenv.WaitFor(t, "the embedded denylist to trust again", func() bool {
		res, _ := get(t, http.DefaultClient, embedded.opsURL("/readyz"), nil)
		return res.StatusCode == http.StatusOK
	})
	load.awaitMore(t, "after the recovery", 10)
	load.halt()
	recovered := time.Now()

	// The refresh token presented during the outage was not consumed.
	status, _, body := callAuthAPI(t, cr, http.MethodPost, base+"/auth/refresh", map[string]string{"refresh_token": pair.refresh}, nil)
	if status != http.StatusOK {
		t.Errorf("refresh after recovery with the token tried during the outage = %d %v; want 200", status, body)
	}
	if res, _ := get(t, ce, embedded.url("/app/x"), withBearer(fresh.access)); res.StatusCode != http.StatusOK {
		t.Errorf("embedded: GET /app after recovery = %d; want 200", res.StatusCode)
	}

	outs := load.snapshot()
	t.Logf("outcomes: %s", outcomeCounts(outs))
	for _, o := range outs {
		at := o.start.Sub(stopped).Round(time.Millisecond)
		if o.err != nil {
			t.Errorf("%s at %v: %v; the gateway must always answer", o.name, at, o.err)
			continue
		}
		switch o.name {
		case "redis/app", "redis/pub", "embedded/pub":
			if o.status != http.StatusOK {
				t.Errorf("%s at %v = %d; want 200: proxying does not need the database", o.name, at, o.status)
			}
		case "embedded/app":
			switch {
			case o.status != http.StatusOK && o.status != http.StatusServiceUnavailable:
				t.Errorf("%s at %v = %d; want 200, or 503 while revocations cannot be read", o.name, at, o.status)
			case o.status == http.StatusOK && o.start.After(untrusted.end) && o.end.Before(restarted):
				t.Errorf("%s at %v = 200 after the denylist failed closed and before PostgreSQL was back", o.name, at)
			case o.status == http.StatusServiceUnavailable && o.start.After(recovered):
				t.Errorf("%s at %v = 503 after recovery", o.name, at)
			}
		}
	}
}

// TestFaultPostgresFrozen freezes every PostgreSQL process (SIGSTOP): the
// sockets stay open and silent, as with a hung host or a network that
// drops packets. Account operations must still be answered — 503, within
// seconds — rather than hold the client (and a goroutine) for as long as
// the database stays frozen.
func TestFaultPostgresFrozen(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and freezes a PostgreSQL cluster")
	}
	pg := startPrivatePostgres(t)
	redisURL, prefix := testenv.RedisURL(t)
	b := newBackend(t, "app")
	g := newTestGateway(t)
	g.dbURL, g.dbExtra = pg.url(), "  timeout: 3s\n"
	g.start(fmt.Sprintf("redis:\n  url: %s\n  key_prefix: %q\n", redisURL, prefix) + faultRoutes(b))
	c := g.client(false)
	const password = "fault-tolerant-passphrase-3"
	registerUser(t, c, g.url(""), "dave", password)
	pair := loginUser(t, c, g.url(""), "dave", password)

	pg.signalAll(syscall.SIGSTOP)
	thawed := false
	thaw := func() {
		if !thawed {
			pg.signalAll(syscall.SIGCONT)
			thawed = true
		}
	}
	defer thaw()

	calls := []storeCall{
		{name: "login", method: http.MethodPost, path: "/auth/login",
			body: map[string]string{"username": "dave", "password": password}},
		{name: "refresh", method: http.MethodPost, path: "/auth/refresh",
			body: map[string]string{"refresh_token": pair.refresh}},
		{name: "me", method: http.MethodGet, path: "/auth/me", header: withBearer(pair.access)},
	}
	for _, tt := range calls {
		t.Run("fail-"+tt.name+"-while-frozen", func(t *testing.T) {
			start := time.Now()
			status, ctype, body := callAuthAPI(t, c, tt.method, g.url(tt.path), tt.body, tt.header)
			took := time.Since(start)
			t.Logf("%s %s while PostgreSQL is frozen: %d in %v", tt.method, tt.path, status, took)
			if status != http.StatusServiceUnavailable || ctype != "application/problem+json" {
				t.Errorf("%s %s = %d %s %v; want 503 application/problem+json", tt.method, tt.path, status, ctype, body)
			}
			// database.timeout is 3s here (room for bcrypt under -race on a busy
			// machine), plus a second's grace for the
			// driver; the client's own timeout is 30 s.
			if took > 10*time.Second {
				t.Errorf("%s %s took %v; a silent database must be answered promptly", tt.method, tt.path, took)
			}
		})
	}
	start := time.Now()
	if res, _ := get(t, http.DefaultClient, g.opsURL("/readyz"), nil); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while PostgreSQL is frozen = %d; want 503", res.StatusCode)
	}
	t.Logf("/readyz while PostgreSQL is frozen answered in %v", time.Since(start))
	if res, body := get(t, c, g.url("/app/x"), withBearer(pair.access)); res.StatusCode != http.StatusOK {
		t.Errorf("GET /app while PostgreSQL is frozen = %d %q; want 200 (the Redis denylist does not need it)", res.StatusCode, body)
	}

	thaw()
	testenv.WaitFor(t, "login to work again", func() bool {
		status, _, _ := callAuthAPI(t, c, http.MethodPost, g.url("/auth/login"),
			map[string]string{"username": "dave", "password": password}, nil)
		return status == http.StatusOK
	})
}
