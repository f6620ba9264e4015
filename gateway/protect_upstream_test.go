package gateway

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Route protection as the upstream sees it: which credentials and
// cookies pass, which headers a client cannot smuggle, which cookies an
// upstream cannot set.

// pProtectForwardToken: a forward_token route passes the credential on
// (the upstream wants to call other services as the user); the identity
// headers are set all the same.
func pProtectForwardToken(t *testing.T, f *pProtectFixture) {
	tok := f.aliceTok.valid
	t.Run("ok-bearer", func(t *testing.T) {
		before := f.b.count()
		resp := f.g.do(t, http.MethodGet, "/forward/x", nil, [2]string{"Authorization", "Bearer " + tok}, [2]string{"Cookie", "app=1"})
		if resp.StatusCode != 200 {
			t.Fatalf("GET /forward/x = %d %s; want 200", resp.StatusCode, resp.body)
		}
		seen := f.b.last(t, before)
		if got := seen.Header.Values("Authorization"); !slices.Equal(got, []string{"Bearer " + tok}) {
			t.Errorf("backend got Authorization %q; want the client's bearer token", got)
		}
		pCheckUpstreamView(t, seen, &f.alice, true)
	})
	t.Run("ok-cookie", func(t *testing.T) {
		before := f.b.count()
		resp := f.g.do(t, http.MethodGet, "/forward/x", nil, [2]string{"Cookie", "app=1; __Host-authgate=" + tok})
		if resp.StatusCode != 200 {
			t.Fatalf("GET /forward/x = %d %s; want 200", resp.StatusCode, resp.body)
		}
		seen := f.b.last(t, before)
		c, err := (&http.Request{Header: seen.Header}).Cookie("__Host-authgate")
		if err != nil || c.Value != tok {
			t.Errorf("backend got cookie __Host-authgate %v (%v); want the client's token", c, err)
		}
		pCheckUpstreamView(t, seen, &f.alice, true)
	})
	t.Run("ok-required-route-removes-them", func(t *testing.T) {
		before := f.b.count()
		resp := f.g.do(t, http.MethodGet, "/required/x", nil, [2]string{"Authorization", "Bearer " + tok}, [2]string{"Cookie", "app=1"})
		if resp.StatusCode != 200 {
			t.Fatalf("GET /required/x = %d %s; want 200", resp.StatusCode, resp.body)
		}
		pCheckUpstreamView(t, f.b.last(t, before), &f.alice, false)
	})
}

// pProtectUpstreamSetCookie: an upstream cannot plant, replace or clear
// the gateway's cookies; its own cookies reach the client.
func pProtectUpstreamSetCookie(t *testing.T, f *pProtectFixture) {
	for _, path := range []string{"/public/set-cookie", "/required/set-cookie"} {
		t.Run("ok-"+strings.Split(path, "/")[1], func(t *testing.T) {
			resp := f.g.do(t, http.MethodGet, path, nil, [2]string{"Authorization", "Bearer " + f.aliceTok.valid})
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s = %d %s; want 200", path, resp.StatusCode, resp.body)
			}
			got := resp.Header.Values("Set-Cookie")
			if !slices.Equal(got, []string{"app=2; Path=/"}) {
				t.Errorf("Set-Cookie = %q; want only the application's [app=2; Path=/]", got)
			}
		})
	}
}

// pProtectHopByHop: a client that names the identity headers in its
// Connection header (RFC 9110 §7.6.1: those are then hop-by-hop and a proxy
// removes them) can neither strip the gateway's identity headers nor slip
// its own through.
func pProtectHopByHop(t *testing.T, f *pProtectFixture) {
	const connection = "Connection: keep-alive, X-Auth-User-Id, X-Auth-User, X-Auth-Email, X-Auth-Roles\r\n"
	forged := "X-Auth-User-Id: 999\r\nX-Auth-User: mallory\r\nX-Auth-Email: m@evil.example\r\nX-Auth-Roles: admin\r\nCookie: app=1\r\n"
	tests := []struct {
		name, path, auth string
		want             *pUser
	}{
		{"ok-required", "/roles/x", "Authorization: Bearer " + f.rootTok.valid + "\r\n", &f.root},
		{"ok-public", "/public/x", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.b.count()
			resp := f.g.rawRequest(t, "GET "+tt.path+" HTTP/1.1\r\nHost: "+f.g.host+"\r\n"+connection+forged+tt.auth+"\r\n")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d %s; want 200", tt.path, resp.StatusCode, resp.body)
			}
			pCheckUpstreamView(t, f.b.last(t, before), tt.want, false)
		})
	}
}
