//go:build !unix

package park

import "time"

// Supported: without a way to wait for a socket to become readable
// without reading it, idle connections stay with the HTTP server.
const Supported = false

type watcher struct{}

func newWatcher(*Listener) *watcher           { return &watcher{} }
func (*watcher) add(c *parkConn, _ time.Time) { c.Conn.Close() }
func (*watcher) len() int                     { return 0 }
func (*watcher) close()                       {}
