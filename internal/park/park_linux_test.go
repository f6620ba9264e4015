package park

import (
	"testing"

	"github.com/authgate/authgate/internal/testenv"
)

// waitExpiryScans waits until the watcher has looked for connections whose
// idle time is up n more times: whatever it would close for that, it has
// closed by then.
func waitExpiryScans(t *testing.T, l *Listener, n uint64) {
	t.Helper()
	until := l.watch.scans.Load() + n
	testenv.WaitFor(t, "the parked connections' expiry scans", func() bool { return l.watch.scans.Load() >= until })
}
