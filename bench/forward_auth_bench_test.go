package bench

import (
	"net/http"
	"testing"
)

// BenchmarkForwardAuth measures, in one run and on one gateway, a
// protected proxied request and the forward-auth check an ingress makes
// for the same request: GET /auth/verify from a trusted proxy with the
// original request in X-Original-URL (nginx's style) and the same bearer
// token, answered 200 with the identity headers. The client keeps its
// connections alive, as an ingress keeps its connections to authgate
// (nginx "keepalive" in the upstream block). The check does everything a
// protected proxied request does but the upstream round trip:
//
//	go test -run '^$' -bench BenchmarkForwardAuth -benchmem ./bench/
//
// Besides ns/op, B/op and allocs/op, the check row reports x-proxied: its
// ns/op over the proxied row's.
func BenchmarkForwardAuth(b *testing.B) {
	back := newBackend(b)
	client := newClient(b)
	g := startGateway(b, back.URL, gwOptions{alg: "ES256", extraYAML: "trusted_proxies: [127.0.0.1/32]\n"})
	token := g.mint(b, "bench-session")
	var proxiedNs float64
	for _, row := range []struct {
		name string
		req  func() *http.Request
	}{
		{"proxied", func() *http.Request { return get(b, g.base+"/api/items?page=2", token) }},
		{"check", func() *http.Request { return check(b, g.base, "/api/items?page=2", token) }},
	} {
		b.Run(row.name, func(b *testing.B) {
			ns, _ := measureParallel(b, client, row.req)
			if row.name == "proxied" {
				proxiedNs = ns
			} else if proxiedNs > 0 {
				b.ReportMetric(ns/proxiedNs, "x-proxied")
			}
		})
	}
}

// check builds the forward-auth check nginx's auth_request sends for a
// GET of uri on the gateway's own host: to /auth/verify, with the
// original request in X-Original-URL and X-Original-Method and the
// client's token.
func check(tb testing.TB, base, uri, token string) *http.Request {
	req := get(tb, base+"/auth/verify", token)
	req.Header.Set("X-Original-URL", base+uri)
	req.Header.Set("X-Original-Method", "GET")
	return req
}
