// Command backend is the load test's upstream: it answers every request
// with the same small JSON body, as fast as net/http can. Both the bare
// proxy and authgate forward to one instance of it.
//
//	go run ./scripts/loadtest/backend -listen 127.0.0.1:18081
//
// It runs with Go's default GOGC (100) unless the environment says
// otherwise; it allocates little either way.
//
// It is a tool of scripts/load.sh, apart from authgate: it imports none of
// its packages.
package main
