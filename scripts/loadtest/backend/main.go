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
