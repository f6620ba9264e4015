package upstream

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestEcho checks that builtin:echo reports the request as an upstream
// would receive it: after the rewrite, client identity headers gone, ours
// set, the forwarded path, and the body's length.
func TestEcho(t *testing.T) {
	tests := []struct {
		name        string
		identity    bool
		wantHeaders map[string][]string // headers whose values are checked; absent = must be missing
	}{
		{
			name: "ok-public",
			wantHeaders: map[string][]string{
				"X-Auth-User": nil, "X-Auth-User-Id": nil, "X-Auth-Email": nil, "X-Auth-Roles": nil, "X-Auth-Jwt": nil,
				"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Proto": {"https"}, "X-Request-Id": {"req-1"},
				"Authorization": nil, "Accept": {"application/json"},
			},
		},
		{
			name:     "ok-protected",
			identity: true,
			wantHeaders: map[string][]string{
				"X-Auth-User": {"alice"}, "X-Auth-User-Id": {"42"}, "X-Auth-Email": {"alice@example.com"},
				"X-Auth-Roles": {"admin,dev"}, "X-Auth-Jwt": nil,
				"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Host": {"app.example.com"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := newTestUpstreams(t, testConfig(), nil)
			h := mustHandler(t, u, BuiltinEcho, Route{Name: "demo"})
			front := newFrontend(t, h, func(r *http.Request) *Forward {
				f := gatewayForward(r)
				f.Path = strings.TrimPrefix(f.Path, "/app") // the route strips its prefix /app
				if tt.identity {
					f.Identity = testIdentity()
				}
				return f
			})
			res, body := rawRequest(t, front.Listener.Addr().String(),
				"POST /app/a%20b?x=1&y HTTP/1.1\r\nHost: app.example.com\r\nAccept: application/json\r\n"+
					"Authorization: Bearer t\r\nContent-Length: 5\r\n"+spoofedIdentity+"\r\nhello")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q; want application/json", ct)
			}
			var got echoView
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("echo answer %s: %v", body, err)
			}
			want := echoView{Route: "demo", Method: "POST", Path: "/a b", URI: "/a%20b?x=1&y", RawQuery: "x=1&y",
				Host: "app.example.com", RemoteAddr: got.RemoteAddr, Headers: got.Headers, BodyLength: 5}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("echo = %+v;\nwant %+v", got, want)
			}
			if !strings.HasPrefix(got.RemoteAddr, "127.0.0.1:") {
				t.Errorf("remote_addr %q; want the peer 127.0.0.1:port", got.RemoteAddr)
			}
			for k, v := range got.Headers {
				if strings.Contains(k, "_") {
					t.Errorf("echo shows client header %s: %q; want it removed", k, v)
				}
			}
			for k, want := range tt.wantHeaders {
				if v := got.Headers[k]; !reflect.DeepEqual(v, want) {
					t.Errorf("echo header %s = %q; want %q", k, v, want)
				}
			}
		})
	}
}
