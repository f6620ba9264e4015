package upstream

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"testing"
	"time"
)

// BenchmarkProxy compares the proxy with a bare httputil.ReverseProxy
// (Rewrite: SetURL + SetXForwarded) over the same tuned transport to the
// same in-process backend, whose own allocations count in every row.
// Compare public with bare, and protected with bare-identity (which sets
// the same identity headers, so the backend parses as many). Both of ours
// include what the gateway adds per request: the Forward.
//
//	go test -run '^$' -bench BenchmarkProxy -benchmem ./upstream/
func BenchmarkProxy(b *testing.B) {
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	b.Cleanup(back.Close)
	target, _ := url.Parse(back.URL)
	id := testIdentity()
	client := netip.MustParseAddr("192.0.2.1")

	run := func(b *testing.B, serve func(w http.ResponseWriter, r *http.Request)) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodGet, "http://app.example.com/api/items?page=2", nil)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Authorization", "Bearer abc")
			req.Header.Set("Cookie", "__Host-authgate=abc; theme=dark")
			w := httptest.NewRecorder()
			serve(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	}

	bare := func(identity bool) http.Handler {
		return &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
				if identity {
					// What any proxy that sends identity must send:
					// the backend parses these too.
					pr.Out.Header.Set("X-Auth-User-Id", id.UserID)
					pr.Out.Header.Set("X-Auth-User", id.Username)
					pr.Out.Header.Set("X-Auth-Email", id.Email)
					pr.Out.Header.Set("X-Auth-Roles", id.RolesHeader())
					pr.Out.Header.Set("X-Request-Id", "0123456789abcdef")
				}
			},
			Transport: newTransport(30*time.Second, 5*time.Second, 256, 1),
		}
	}
	b.Run("bare", func(b *testing.B) {
		run(b, bare(false).ServeHTTP)
	})
	b.Run("bare-identity", func(b *testing.B) {
		run(b, bare(true).ServeHTTP)
	})
	for _, tc := range []struct {
		name     string
		identity bool
	}{{"public", false}, {"protected", true}} {
		b.Run(tc.name, func(b *testing.B) {
			u, _ := newTestUpstreams(b, testConfig(), nil)
			h := mustHandler(b, u, back.URL, Route{Name: "api"})
			run(b, func(w http.ResponseWriter, r *http.Request) {
				f := &Forward{Path: r.URL.Path, ClientIP: client, Proto: "https", Host: r.Host, RequestID: "0123456789abcdef"}
				if tc.identity {
					f.Identity = id
				}
				h.Serve(w, r, f)
			})
		})
	}
}
