package upstream

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// TestProxyForwardedHost: X-Forwarded-Host is the host the gateway made
// its decision on (Forward.Host, normalised) or nothing — never the
// request's own Host header, which may be a spelling the gateway refused
// to route on ("admin.test:443:" reached a public route while a backend
// behind it read admin.test), nor a client's X-Forwarded-Host.
func TestProxyForwardedHost(t *testing.T) {
	tests := []struct {
		name    string
		host    string // the request's Host header
		fwdHost string // Forward.Host
		want    []string
	}{
		{name: "ok-the-gateways-host", host: "Admin.TEST.:443", fwdHost: "admin.test:443", want: []string{"admin.test:443"}},
		{name: "ok-none-when-the-gateway-names-none", host: "admin.test:443:", fwdHost: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back := newBackend(t, recordingHandler("b"))
			u, el := newTestUpstreams(t, testConfig(), nil)
			h := mustHandler(t, u, back.URL, Route{Name: "app"})
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			req.Host = tt.host
			req.Header.Set("X-Forwarded-Host", "evil.test")
			w := httptest.NewRecorder()
			h.Serve(w, req, &Forward{Path: "/x", Host: tt.fwdHost})
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, error %v; want 200", w.Code, el.last())
			}
			got := decodeReceived(t, w.Body.Bytes()).Header["X-Forwarded-Host"]
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Host %q, Forward.Host %q: backend got X-Forwarded-Host %q; want %q", tt.host, tt.fwdHost, got, tt.want)
			}
		})
	}
}
