// Package bench measures authgate end to end: whole gateways on loopback
// sockets against a bare httputil.ReverseProxy, the request path's use of
// PostgreSQL and Redis, memory per idle connection, and the throughput of
// logins and refreshes. It holds no production code; everything is in its
// _test.go files, and `go test ./...` runs only the plain tests (the
// benchmarks run with -bench, the RSS measurement with AUTHGATE_RSS_TEST=1).
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// It is imported by nothing and may import any of authgate's packages.
package bench
