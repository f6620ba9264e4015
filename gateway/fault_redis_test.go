package gateway

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/denylist"
	"github.com/authgate/authgate/internal/testenv"
)

// TestFaultRedisKilled kills the Redis that holds the denylist while
// clients use two gateways — one with redis.on_error: deny, one with
// allow — then brings back an empty Redis and a revocation made while
// the gateways were cut off from it.
//
// Under deny, protected routes fail closed (503 problem+json) from the
// moment the mirror is untrusted until it is reloaded; under allow, valid
// tokens keep passing. On both, public routes answer 200 throughout, a
// token revoked before the kill is refused throughout, and the gateway
// recovers by itself. The times from the kill to the first 503 and from
// the reconnect to the first 200 are logged, not asserted (beyond a
// generous bound that only a hang would exceed).
func TestFaultRedisKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a redis-server")
	}
	srv := testenv.StartRedisServer(t)
	gate := testenv.NewGate(t, srv.Addr())
	prefix := testenv.RandomName("authgate_fault_") + ":"
	b := newBackend(t, "app")

	type gw struct {
		name string
		g    *testGateway
		c    *http.Client
	}
	var gws []*gw
	for _, onError := range []string{"deny", "allow"} {
		g := newTestGateway(t)
		g.start(fmt.Sprintf(`redis:
  url: redis://%s/0
  on_error: %s
  key_prefix: %q
routes:
  - name: pub
    path: /pub
    auth: public
    upstream: %s
  - name: app
    path: /app
    auth: required
    upstream: %s
`, gate.Addr(), onError, prefix, b.URL, b.URL))
		gws = append(gws, &gw{name: onError, g: g, c: g.client(false)})
	}
	deny := gws[0]

	// Three sessions of one user, on the deny gateway (both gateways
	// share the signing secret and the denylist). revoked is logged out
	// before the fault, cutOff is revoked while the gateways cannot
	// reach Redis, live stays valid.
	const password = "fault-tolerant-passphrase-1"
	registerUser(t, deny.c, deny.g.url(""), "alice", password)
	revoked := loginUser(t, deny.c, deny.g.url(""), "alice", password)
	live := loginUser(t, deny.c, deny.g.url(""), "alice", password)
	cutOff := loginUser(t, deny.c, deny.g.url(""), "alice", password)
	if status, _, body := callAuthAPI(t, deny.c, http.MethodPost, deny.g.url("/auth/logout"), nil, withBearer(revoked.access)); status != http.StatusOK {
		t.Fatalf("logout = %d %v; want 200", status, body)
	}
	for _, x := range gws {
		testenv.WaitFor(t, x.name+" to refuse the logged-out token", func() bool {
			res, _ := get(t, x.c, x.g.url("/app"), withBearer(revoked.access))
			return res.StatusCode == http.StatusUnauthorized
		})
		for _, tok := range []string{live.access, cutOff.access} {
			if res, body := get(t, x.c, x.g.url("/app"), withBearer(tok)); res.StatusCode != http.StatusOK {
				t.Fatalf("%s: GET /app before the fault = %d %q; want 200", x.name, res.StatusCode, body)
			}
		}
	}

	load := newLoadRecorder()
	for _, x := range gws {
		for range 2 {
			load.run(x.name+"/public", x.c, getRequestFn(x.g.url("/pub/x"), nil))
			load.run(x.name+"/live", x.c, getRequestFn(x.g.url("/app/x"), withBearer(live.access)))
		}
		load.run(x.name+"/revoked", x.c, getRequestFn(x.g.url("/app/x"), withBearer(revoked.access)))
	}
	load.awaitMore(t, "before the fault", 10)

	killed := time.Now()
	srv.Kill()
	testenv.WaitFor(t, "the deny gateway to fail closed", func() bool {
		_, ok := firstOutcome(load.snapshot(), killed, func(o loadOutcome) bool {
			return o.name == "deny/live" && o.status == http.StatusServiceUnavailable
		})
		return ok
	})
	firstDeny, _ := firstOutcome(load.snapshot(), killed, func(o loadOutcome) bool {
		return o.name == "deny/live" && o.status == http.StatusServiceUnavailable
	})
	toDeny := firstDeny.end.Sub(killed)
	t.Logf("redis killed → first 503 on the deny gateway: %v", toDeny)
	if toDeny > 5*time.Second {
		t.Errorf("redis killed → first 503 took %v; want well under 5 s (the liveness check is 1 s)", toDeny)
	}

	// The problem document of a fail-closed answer.
	status, ctype, body := callAuthAPI(t, deny.c, http.MethodGet, deny.g.url("/app/x"), nil, withBearer(live.access))
	if status != http.StatusServiceUnavailable || ctype != "application/problem+json" || body["status"] != float64(503) {
		t.Errorf("GET /app while redis is down = %d %s %v; want 503 application/problem+json", status, ctype, body)
	}
	// Each gateway notices on its own (the allow one may not have yet
	// when the deny one fails closed): /readyz must say so within the
	// same bound.
	for _, x := range gws {
		testenv.WaitFor(t, x.name+"'s /readyz to report redis down", func() bool {
			res, _ := get(t, http.DefaultClient, x.g.opsURL("/readyz"), nil)
			return res.StatusCode == http.StatusServiceUnavailable
		})
		if d := time.Since(killed); d > 5*time.Second {
			t.Errorf("%s: /readyz said 503 only %v after redis was killed; want well under 5 s", x.name, d)
		}
	}

	// Redis comes back empty, but the gateways stay cut off from it
	// while the cutOff session is revoked there (as another instance,
	// or authgate user disable, would do).
	gate.SetClosed(true)
	srv.Start()
	direct := denylist.NewRedisDenylist(faultRedisClient(t, srv.URL()), prefix, denylist.OnErrorDeny, 15*time.Minute, nil)
	if err := direct.Revoke(context.Background(), denylist.Revocation{SessionID: sidOf(t, cutOff.access)}); err != nil {
		t.Fatalf("revoke on the restarted redis: %v", err)
	}
	for _, x := range gws {
		load.run(x.name+"/cut-off", x.c, getRequestFn(x.g.url("/app/x"), withBearer(cutOff.access)))
	}
	load.awaitMore(t, "while the revocation is unknown to both gateways", 10)

	reopened := time.Now()
	gate.SetClosed(false)
	for _, x := range gws {
		testenv.WaitFor(t, x.name+" to be ready again", func() bool {
			res, _ := get(t, http.DefaultClient, x.g.opsURL("/readyz"), nil)
			return res.StatusCode == http.StatusOK
		})
	}
	recoveredOK := func(o loadOutcome) bool {
		return o.name == "deny/live" && o.status == http.StatusOK && o.start.After(reopened)
	}
	testenv.WaitFor(t, "a 200 on the deny gateway after the gate reopened", func() bool {
		_, ok := firstOutcome(load.snapshot(), reopened, recoveredOK)
		return ok
	})
	recovered, _ := firstOutcome(load.snapshot(), reopened, recoveredOK)
	t.Logf("gate reopened → first 200 on the deny gateway: %v", recovered.end.Sub(reopened))
	load.awaitMore(t, "after the recovery", 10)
	load.halt()
	ready := time.Now()

	outs := load.snapshot()
	t.Logf("outcomes: %s", outcomeCounts(outs))
	for _, o := range outs {
		if o.err != nil {
			t.Errorf("%s at %v: %v; the gateway must always answer", o.name, o.start.Sub(killed), o.err)
			continue
		}
		at := o.start.Sub(killed).Round(time.Millisecond)
		switch o.name {
		case "deny/public", "allow/public":
			if o.status != http.StatusOK {
				t.Errorf("%s at %v = %d; public routes must not depend on redis", o.name, at, o.status)
			}
		case "deny/revoked", "allow/revoked":
			if o.status != http.StatusUnauthorized {
				t.Errorf("%s at %v = %d; a token revoked before the fault must stay refused (401)", o.name, at, o.status)
			}
		case "deny/live":
			switch {
			case o.status != http.StatusOK && o.status != http.StatusServiceUnavailable:
				t.Errorf("%s at %v = %d; want 200 or 503", o.name, at, o.status)
			case o.status == http.StatusOK && o.start.After(firstDeny.end) && o.end.Before(reopened):
				t.Errorf("%s at %v = 200 while the mirror was untrusted; want 503 (fail closed)", o.name, at)
			}
		case "allow/live":
			if o.status != http.StatusOK {
				t.Errorf("%s at %v = %d; with on_error: allow a valid token passes while redis is down", o.name, at, o.status)
			}
		case "deny/cut-off":
			if o.status != http.StatusServiceUnavailable && o.status != http.StatusUnauthorized {
				t.Errorf("%s at %v = %d; want 503 while cut off, then 401", o.name, at, o.status)
			}
		case "allow/cut-off":
			// While cut off, an allow gateway cannot know of the
			// revocation: that is what on_error: allow trades. Once
			// reconnected it must refuse.
			switch {
			case o.status != http.StatusOK && o.status != http.StatusUnauthorized:
				t.Errorf("%s at %v = %d; want 200 while cut off, then 401", o.name, at, o.status)
			case o.start.After(ready) && o.status != http.StatusUnauthorized:
				t.Errorf("%s at %v = %d after recovery; want 401", o.name, at, o.status)
			}
		}
	}
	for _, x := range gws {
		if res, _ := get(t, x.c, x.g.url("/app/x"), withBearer(cutOff.access)); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: the session revoked while cut off = %d after recovery; want 401", x.name, res.StatusCode)
		}
		if res, _ := get(t, x.c, x.g.url("/app/x"), withBearer(revoked.access)); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: the session revoked before the fault = %d after recovery; want 401", x.name, res.StatusCode)
		}
		if res, _ := get(t, x.c, x.g.url("/app/x"), withBearer(live.access)); res.StatusCode != http.StatusOK {
			t.Errorf("%s: the live session = %d after recovery; want 200", x.name, res.StatusCode)
		}
	}
}
