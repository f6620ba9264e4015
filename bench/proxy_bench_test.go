package bench

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testenv"
)

// BenchmarkProxy sends the same GET, over real loopback sockets in one
// process, through a bare httputil.ReverseProxy and through authgate, to
// one backend, with one keep-alive client (64 goroutines, as wrk -c64).
// Every row counts the whole round trip — client, proxy and backend — so
// differences between rows are what the proxy in the middle costs.
//
//	bare               httputil.ReverseProxy, Rewrite: SetURL + SetXForwarded,
//	                   a transport keeping 256 idle connections per host
//	bare-identity      the same, also sending authgate's identity headers and
//	                   request id (what the backend and client parse)
//	public             authgate, a public route
//	hs256, es256       authgate, a protected route (a valid bearer token,
//	                   identity headers set), denylist in the database
//	es256-redis        the same with the Redis denylist (127.0.0.1:6379)
//	es256-redis-nolog  the same with log.access: false
//	bare-tls, es256-redis-tls   TLS on the client side (authgate self_signed)
//
// The access log is on unless the row says otherwise; it goes to a file.
// Besides ns/op, B/op and allocs/op, each row reports x-bare (its ns/op
// over bare's) and allocs-over-bare (its allocs/op minus bare's), when
// the bare row of the same TLS mode ran before it in this invocation:
//
//	go test -run '^$' -bench BenchmarkProxy -benchmem ./bench/
func BenchmarkProxy(b *testing.B) {
	back := newBackend(b)
	client := newClient(b)
	target, _ := url.Parse(back.URL)

	// The bare proxy, as anyone would write one, with the connection pool
	// a proxy needs (Go's default keeps 2 idle connections per host).
	bareProxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	bare := httptest.NewServer(bareProxy)
	b.Cleanup(bare.Close)
	// The bare proxy doing what authgate's protected route does for the
	// backend and the client: the same identity headers and request id.
	// The backend and the client parse them, which costs allocations in
	// their processes whatever proxy sends them.
	var seq atomic.Uint64
	identityProxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			id := "0f3a9c2e-" + strconv.FormatUint(seq.Add(1), 36)
			h := pr.Out.Header
			h.Set("X-Auth-User-Id", "4711")
			h.Set("X-Auth-User", "alice")
			h.Set("X-Auth-Email", "alice@example.com")
			h.Set("X-Auth-Roles", "dev,user")
			h.Set("X-Request-Id", id)
		},
		ModifyResponse: func(res *http.Response) error {
			res.Header.Set("X-Request-Id", res.Request.Header.Get("X-Request-Id"))
			return nil
		},
		Transport: bareProxy.Transport,
	}
	bareIdentity := httptest.NewServer(identityProxy)
	b.Cleanup(bareIdentity.Close)
	bareTLS := httptest.NewUnstartedServer(bareProxy)
	bareTLS.StartTLS()
	b.Cleanup(bareTLS.Close)

	// Gateways start on first use, so that -bench can pick one row, and
	// live until the whole benchmark ends: a sub-benchmark's cleanups run
	// after each of its rounds.
	parent := b
	gateways := map[gwOptions]*gw{}
	gateway := func(b *testing.B, o gwOptions) *gw {
		if g, ok := gateways[o]; ok {
			return g
		}
		if o.redis {
			testenv.RedisURL(b) // skips this row, loudly, without Redis
		}
		g := startGateway(parent, back.URL, o)
		gateways[o] = g
		return g
	}
	es256Redis := gwOptions{alg: "ES256", redis: true}

	rows := []struct {
		name string
		tls  bool
		url  func(b *testing.B) (url, token string)
	}{
		{"bare", false, func(*testing.B) (string, string) { return bare.URL + "/api/items?page=2", "" }},
		{"bare-identity", false, func(*testing.B) (string, string) {
			return bareIdentity.URL + "/api/items?page=2", "Zm9v" // Authorization sent as to authgate
		}},
		{"public", false, func(b *testing.B) (string, string) {
			return gateway(b, es256Redis).base + "/public/items?page=2", ""
		}},
		{"hs256", false, protected(gateway, gwOptions{alg: "HS256"})},
		{"es256", false, protected(gateway, gwOptions{alg: "ES256"})},
		{"es256-redis", false, protected(gateway, es256Redis)},
		{"es256-redis-nolog", false, protected(gateway, gwOptions{alg: "ES256", redis: true, noLog: true})},
		{"bare-tls", true, func(*testing.B) (string, string) { return bareTLS.URL + "/api/items?page=2", "" }},
		{"es256-redis-tls", true, protected(gateway, gwOptions{alg: "ES256", redis: true, tls: true})},
	}
	// The bare rows' results, by TLS mode, for the ratios.
	type result struct{ ns, allocs float64 }
	baseline := map[bool]*result{}
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			url, token := row.url(b)
			var r result
			r.ns, r.allocs = measureParallel(b, client, func() *http.Request { return get(b, url, token) })
			if row.name == "bare" || row.name == "bare-tls" {
				baseline[row.tls] = &r
				return
			}
			if base := baseline[row.tls]; base != nil {
				b.ReportMetric(r.ns/base.ns, "x-bare")
				b.ReportMetric(r.allocs-base.allocs, "allocs-over-bare")
			}
		})
	}
}

// protected returns the row setup for a protected route of the gateway
// with options o: its URL and a freshly minted token.
func protected(gateway func(*testing.B, gwOptions) *gw, o gwOptions) func(b *testing.B) (string, string) {
	return func(b *testing.B) (string, string) {
		g := gateway(b, o)
		return g.base + "/api/items?page=2", g.mint(b, "bench-session")
	}
}
