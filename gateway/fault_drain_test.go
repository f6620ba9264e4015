package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// TestShutdownDelay: with limits.shutdown_delay, a stopping gateway first
// answers /readyz with 503 while its public listener still serves, so a
// load balancer takes it out of rotation before its ports close; then it
// stops as usual. Without it (the default) the ports close at once, which
// TestProcessSignals checks.
func TestShutdownDelay(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	s := g.start("limits:\n  shutdown_delay: 3s\n" + publicRoute(b))
	c := g.client(false)
	if res, _ := get(t, http.DefaultClient, g.opsURL("/readyz"), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz before the stop = %d; want 200", res.StatusCode)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	testenv.WaitFor(t, "/readyz to answer 503", func() bool {
		res, _ := get(t, http.DefaultClient, g.opsURL("/readyz"), nil)
		return res.StatusCode == http.StatusServiceUnavailable
	})
	// Both a connection opened before and one opened now are served.
	if res, body := get(t, c, g.url("/during"), nil); res.StatusCode != http.StatusOK {
		t.Errorf("GET /during the shutdown delay = %d %q; want 200", res.StatusCode, body)
	}
	if res, body := get(t, g.client(true), g.url("/during"), nil); res.StatusCode != http.StatusOK {
		t.Errorf("GET /during the shutdown delay on a new connection = %d %q; want 200", res.StatusCode, body)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not stop after its shutdown delay")
	}
	if _, err := c.Get(g.url("/after")); err == nil {
		t.Error("the public listener still serves after Run returned")
	}
}
