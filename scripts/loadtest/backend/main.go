// Command backend is the load test's upstream: it answers every request
// with the same small JSON body, as fast as net/http can. Both the bare
// proxy and authgate forward to one instance of it.
//
//	go run ./scripts/loadtest/backend -listen 127.0.0.1:18081
//
// It runs with Go's default GOGC (100) unless the environment says
// otherwise; it allocates little either way.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"time"
)

// body is the same answer as the benchmarks' backend (bench/rig_test.go).
const body = `{"ok":true,"items":[1,2,3]}` + "\n"

func main() {
	listen := flag.String("listen", "127.0.0.1:18081", "address to serve on")
	flag.Parse()
	srv := &http.Server{
		Addr:              *listen,
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		}),
	}
	log.Fatal(srv.ListenAndServe())
}
