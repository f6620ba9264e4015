package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18082", "address to serve on")
	target := flag.String("target", "http://127.0.0.1:18081", "backend URL")
	stats := flag.String("stats", "", "address to serve allocation counters on; empty: none")
	flag.Parse()
	if *stats != "" {
		go func() {
			log.Fatal(http.ListenAndServe(*stats, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				fmt.Fprintf(w, "mallocs %d\nalloc_bytes %d\ngc_cycles %d\n", m.Mallocs, m.TotalAlloc, m.NumGC)
			})))
		}()
	}
	u, err := url.Parse(*target)
	if err != nil {
		log.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	// Bound before it says where: with port 0 the kernel picks the port,
	// and this line is how a test running it learns which.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", ln.Addr())
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
