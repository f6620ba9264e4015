//go:build unix && !linux

package park

import "testing"

// waitExpiryScans: here each parked connection waits on a read deadline of
// its own (its idle time), and nothing scans for them; a connection
// without an idle timeout has no deadline at all. There is nothing to
// wait for.
func waitExpiryScans(*testing.T, *Listener, uint64) {}
