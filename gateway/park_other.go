//go:build !unix

package gateway

import "time"

// parkingSupported: without a way to wait for a socket to become readable
// without reading it, idle connections stay with the HTTP server.
const parkingSupported = false

type watcher struct{}

func newWatcher(*parkingListener) *watcher    { return &watcher{} }
func (*watcher) add(c *parkConn, _ time.Time) { c.Conn.Close() }
func (*watcher) len() int                     { return 0 }
func (*watcher) close()                       {}
