package gateway

import (
	"strings"
	"testing"
)

// testRoutes is a route set that exercises every specificity rule. Names
// are what Match results are compared by.
func testRoutes() []Route {
	return []Route{
		{Name: "root", Path: "/"},
		{Name: "api", Path: "/api"},
		{Name: "api-v1", Path: "/api/v1"},
		{Name: "api-v1-get", Path: "/api/v1", Methods: []string{"GET"}},
		{Name: "api-v1-write", Path: "/api/v1", Methods: []string{"POST", "PUT"}},
		{Name: "app", Hosts: []string{"app.example.com"}, Path: "/"},
		{Name: "app-admin", Hosts: []string{"app.example.com"}, Path: "/admin"},
		{Name: "tenants", Hosts: []string{"*.example.com"}, Path: "/"},
		{Name: "tenants-api", Hosts: []string{"*.example.com"}, Path: "/api"},
		{Name: "deep-wild", Hosts: []string{"*.b.example.com"}, Path: "/"},
		{Name: "ip", Hosts: []string{"10.0.0.1", "::1"}, Path: "/"},
		{Name: "cafe", Path: "/caf%C3%A9"},
	}
}

func TestRouterMatch(t *testing.T) {
	routes := testRoutes()
	r, err := NewRouter(routes)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name               string
		host, method, path string
		want               string // route name; "" = no match
		wantErr            bool   // ParseHost refuses host: a 400, no route is chosen
	}{
		{name: "ok-root", host: "other.test", method: "GET", path: "/", want: "root"},
		{name: "ok-longest-prefix", host: "", method: "DELETE", path: "/api/v1/users", want: "api-v1"},
		{name: "ok-whole-segment-exact", path: "/api", method: "GET", want: "api"},
		{name: "ok-whole-segment-slash", path: "/api/", method: "GET", want: "api"},
		{name: "ok-not-partial-segment", path: "/apix", method: "GET", want: "root"},
		{name: "ok-not-partial-segment-deeper", path: "/api/v10", method: "GET", want: "api"},
		{name: "ok-methods-beat-none", path: "/api/v1/x", method: "GET", want: "api-v1-get"},
		{name: "ok-head-via-get", path: "/api/v1/x", method: "HEAD", want: "api-v1-get"},
		{name: "ok-other-method-list", path: "/api/v1", method: "PUT", want: "api-v1-write"},
		{name: "ok-method-case-folded", path: "/api/v1", method: "post", want: "api-v1-write"},
		{name: "ok-method-not-listed-falls-back", path: "/api/v1", method: "PATCH", want: "api-v1"},
		{name: "ok-path-case-insensitive", path: "/API/V1/x", method: "POST", want: "api-v1-write"},
		{name: "ok-exact-host", host: "app.example.com", method: "GET", path: "/x", want: "app"},
		{name: "ok-exact-host-beats-longer-anyhost-path", host: "app.example.com", method: "GET", path: "/api/v1", want: "app"},
		{name: "ok-exact-host-deeper", host: "app.example.com", method: "GET", path: "/admin/users", want: "app-admin"},
		{name: "ok-exact-host-path-case", host: "app.example.com", method: "GET", path: "/ADMIN", want: "app-admin"},
		{name: "ok-host-case-port-dot", host: "APP.Example.COM.:8443", method: "GET", path: "/admin", want: "app-admin"},
		{name: "ok-wildcard", host: "t1.example.com", method: "GET", path: "/x", want: "tenants"},
		{name: "ok-wildcard-longest-path", host: "t1.example.com", method: "GET", path: "/api/v1", want: "tenants-api"},
		{name: "ok-wildcard-one-label-only", host: "a.c.example.com", method: "GET", path: "/api", want: "api"},
		{name: "ok-deeper-wildcard", host: "a.b.example.com", method: "GET", path: "/api", want: "deep-wild"},
		{name: "ok-wildcard-not-apex", host: "example.com", method: "GET", path: "/api", want: "api"},
		// A Host that is no host name is refused before routing (400):
		// it no longer falls through to the routes without hosts.
		{name: "fail-wildcard-needs-label", host: ".example.com", method: "GET", path: "/api", wantErr: true},
		{name: "ok-ipv4-host", host: "10.0.0.1:8443", method: "GET", path: "/api", want: "ip"},
		{name: "ok-ipv6-host", host: "[::1]:8443", method: "GET", path: "/api", want: "ip"},
		{name: "ok-escaped-route", path: "/caf%C3%A9/menu", method: "GET", want: "cafe"},
		{name: "ok-escaped-route-case", path: "/CAF%C3%A9", method: "GET", want: "cafe"},
		{name: "fail-too-long-host", host: strings.Repeat("a", 300) + ".example.com", method: "GET", path: "/api", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHost(tt.host)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseHost(%q) error = %v; want error %t", tt.host, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			i, ok := r.Match(h.Name, tt.method, tt.path)
			got := ""
			if ok {
				got = routes[i].Name
			}
			if got != tt.want {
				t.Errorf("Match(%q, %q, %q) = %q; want %q", tt.host, tt.method, tt.path, got, tt.want)
			}
		})
	}
}

func TestRouterNoMatch(t *testing.T) {
	routes := []Route{
		{Name: "app", Hosts: []string{"app.example.com"}, Path: "/"},
		{Name: "get-only", Path: "/r", Methods: []string{"GET"}},
	}
	r, err := NewRouter(routes)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ host, method, path string }{
		{"other.example.com", "GET", "/"},
		{"", "GET", "/"},
		{"", "POST", "/r"},
		{"", "GET", "/rx"},
	} {
		h, err := ParseHost(c.host)
		if err != nil {
			t.Fatalf("ParseHost(%q): %v", c.host, err)
		}
		if i, ok := r.Match(h.Name, c.method, c.path); ok {
			t.Errorf("Match(%q, %q, %q) = %q; want no route", c.host, c.method, c.path, routes[i].Name)
		}
	}
}

func TestNewRouterRejects(t *testing.T) {
	tests := []struct {
		name    string
		routes  []Route
		wantErr string
	}{
		{
			name:    "fail-overlap",
			routes:  []Route{{Name: "a", Path: "/x"}, {Name: "b", Path: "/X"}},
			wantErr: `routes[1]: matches the same requests as routes[0] ("a")`,
		},
		{
			name: "fail-overlap-head-get",
			routes: []Route{
				{Name: "a", Path: "/x", Methods: []string{"GET"}, Hosts: []string{"h.example.com"}},
				{Name: "b", Path: "/x", Methods: []string{"HEAD"}, Hosts: []string{"H.example.com"}},
			},
			wantErr: "routes[1]: matches the same requests as routes[0]",
		},
		{name: "fail-path-not-canonical", routes: []Route{{Path: "/a/../b"}}, wantErr: "routes[0].path"},
		{name: "fail-path-trailing-slash", routes: []Route{{Path: "/a/"}}, wantErr: "routes[0].path"},
		{name: "fail-bad-wildcard", routes: []Route{{Path: "/", Hosts: []string{"*.com"}}}, wantErr: "routes[0].hosts[0]"},
		{name: "fail-empty-path", routes: []Route{{}}, wantErr: "routes[0].path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRouter(tt.routes)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewRouter() error = %v; want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewRouterAcceptsDistinct(t *testing.T) {
	routes := []Route{
		{Path: "/x"},
		{Path: "/x", Methods: []string{"GET"}},
		{Path: "/x", Methods: []string{"POST"}},
		{Path: "/x", Hosts: []string{"a.example.com"}},
		{Path: "/x", Hosts: []string{"*.example.com"}},
		{Path: "/x/y"},
	}
	if _, err := NewRouter(routes); err != nil {
		t.Errorf("NewRouter() = %v; want these routes accepted: each is more specific than another somewhere", err)
	}
}

func TestRouterMatchDoesNotAllocate(t *testing.T) {
	r, err := NewRouter(testRoutes())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ host, method, path string }{
		{"app.example.com", "GET", "/admin/users"},
		{"APP.EXAMPLE.COM:8443", "post", "/Admin"},
		{"t1.example.com", "GET", "/api/v1"},
		{"[::1]:8443", "HEAD", "/x"},
		{"", "GET", "/api/v1/x"},
	} {
		h, err := ParseHost(c.host) // host_test.go checks its allocations
		if err != nil {
			t.Fatalf("ParseHost(%q): %v", c.host, err)
		}
		allocs := testing.AllocsPerRun(100, func() { r.Match(h.Name, c.method, c.path) })
		if allocs != 0 {
			t.Errorf("Match(%q, %q, %q) allocates %v times; want 0", c.host, c.method, c.path, allocs)
		}
	}
}

func TestUpstreamPath(t *testing.T) {
	tests := []struct {
		name  string
		route Route
		in    string
		want  string
	}{
		{name: "ok-no-strip", route: Route{Path: "/api"}, in: "/api/x", want: "/api/x"},
		{name: "ok-strip", route: Route{Path: "/api", StripPrefix: true}, in: "/api/x", want: "/x"},
		{name: "ok-strip-exact", route: Route{Path: "/api", StripPrefix: true}, in: "/api", want: "/"},
		{name: "ok-strip-trailing", route: Route{Path: "/api", StripPrefix: true}, in: "/api/", want: "/"},
		{name: "ok-strip-other-case", route: Route{Path: "/api", StripPrefix: true}, in: "/API/X", want: "/X"},
		{name: "ok-strip-root", route: Route{Path: "/", StripPrefix: true}, in: "/x", want: "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.route.UpstreamPath(tt.in); got != tt.want {
				t.Errorf("UpstreamPath(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func BenchmarkRouterMatch(b *testing.B) {
	routes := testRoutes()
	// A platform-sized table: 200 more host routes.
	for i := range 200 {
		routes = append(routes, Route{Hosts: []string{"svc" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ".example.org"}, Path: "/"})
	}
	r, err := NewRouter(routes)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, host, method, path string }{
		{"exact-host", "app.example.com", "GET", "/admin/users/42"},
		{"wildcard", "t1.example.com:8443", "GET", "/api/v1/x"},
		{"any-host", "unknown.test", "POST", "/api/v1/orders"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				// What a request costs: reading its Host, then matching.
				h, _ := ParseHost(c.host)
				r.Match(h.Name, c.method, c.path)
			}
		})
	}
}
