package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

// TestMemoryReturnedWhenTrafficStops: once requests stop for a whole
// runtime.release_memory_after, the gateway returns free memory to the
// operating system — once, not again while it stays quiet, and again
// after the next burst.
func TestMemoryReturnedWhenTrafficStops(t *testing.T) {
	b := newBackend(t, "app")
	g := newTestGateway(t)
	var log logBuffer
	g.logTo = &log
	rs := g.start(headersConfig(b, "") + "runtime:\n  release_memory_after: 1s\n")
	c := g.client(false)
	const line = "traffic stopped: memory returned to the operating system"
	releases := func() int { return strings.Count(log.String(), line) }

	burst := func() {
		for range 20 {
			if res, _ := get(t, c, g.url("/public/x"), nil); res.StatusCode != http.StatusOK {
				t.Fatalf("GET /public/x = %d", res.StatusCode)
			}
		}
	}
	burst()
	testenv.WaitFor(t, "the first release", func() bool { return releases() == 1 })
	checks := rs.releaseChecks.Load()
	testenv.WaitFor(t, "two more quiet periods", func() bool { return rs.releaseChecks.Load() >= checks+2 })
	if n := releases(); n != 1 {
		t.Fatalf("%d releases while the gateway stayed quiet; want 1", n)
	}
	burst()
	testenv.WaitFor(t, "the release after the second burst", func() bool { return releases() == 2 })
}
