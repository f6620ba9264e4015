package upstream

import (
	"net/http"
	"net/netip"
	"testing"
)

// TestRewriteAllocations: writing a protected request's headers builds no
// string: the identity header values are the cached Identity's own
// (RolesHeader joined once per token), and every value set shares one
// backing array — one allocation per request, however many headers. (The
// header map is sized so that its growth does not count: that depends on
// how many headers the client sent.)
func TestRewriteAllocations(t *testing.T) {
	p := newHeaderPlan(testConfig().IdentityHeaders, testCookies)
	id := testIdentity()
	in, err := http.NewRequest(http.MethodGet, "http://app.example.com/api/items?page=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	in.RemoteAddr = "192.0.2.7:51234"
	f := &Forward{Path: "/api/items", ClientIP: netip.MustParseAddr("192.0.2.7"), Proto: "https",
		Host: "app.example.com", Identity: id, RequestID: "9f2c41aa-1z"}
	out := &http.Request{Header: make(http.Header, 32)}
	allocs := testing.AllocsPerRun(1000, func() {
		out.Header["Authorization"] = []string{"Bearer abc"} // removed again by the rewrite
		p.rewrite(out, in, f, false)
	}) - 1 // the Authorization line above
	if allocs > 1 {
		t.Errorf("rewrite allocations = %v; want at most 1 (the shared value array)", allocs)
	}
	if got := out.Header.Get("X-Auth-Roles"); got != id.RolesHeader() {
		t.Errorf("X-Auth-Roles = %q; want %q", got, id.RolesHeader())
	}
	if got := out.Header.Get("X-Auth-User-Id"); got != "42" || out.Header.Get("Authorization") != "" {
		t.Errorf("headers = %v; want the identity set and Authorization gone", out.Header)
	}
}
