// Command bareproxy is the load test's yardstick: httputil.ReverseProxy as
// anyone would write it (Rewrite: SetURL + SetXForwarded), with the one
// setting a proxy needs to keep up, a transport that keeps 256 idle
// connections per backend (Go's default keeps 2). Nothing else: no TLS, no
// authentication, no logging, no metrics.
//
//	go run ./scripts/loadtest/bareproxy -listen 127.0.0.1:18082 -target http://127.0.0.1:18081
//
// GOGC is Go's default (100) unless set in the environment; the load script
// runs it twice, with the default and with GOGC=400, authgate's default.
// With -stats ADDR it also answers GET http://ADDR/ with its allocation
// counters (Go's runtime.MemStats Mallocs, TotalAlloc and NumGC), on a
// listener of its own, so the load script can count allocations per
// request as it does for authgate (from its /metrics).
//
// It is a tool of scripts/load.sh, apart from authgate: it imports none of
// its packages.
package main
