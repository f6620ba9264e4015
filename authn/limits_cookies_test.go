package authn

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// manyCookies is a Cookie header of n application cookies with the access
// cookie last.
func manyCookies(n int, access string) http.Header {
	parts := make([]string, 0, n+1)
	for i := range n {
		parts = append(parts, fmt.Sprintf("c%04d=v", i))
	}
	return http.Header{"Cookie": {strings.Join(append(parts, "__Host-authgate="+access), "; ")}}
}

// TestCredentialManyCookiesDoesNotAllocate: finding the access cookie among
// thousands allocates nothing, so its cost is one linear scan of a header
// that max_header_bytes already bounds (BenchmarkCredentialCookies shows
// the scan's time per cookie).
func TestCredentialManyCookiesDoesNotAllocate(t *testing.T) {
	s := &Service{cookies: newCookieNames("authgate", "")}
	r := &http.Request{Header: manyCookies(3000, "eyJhbGciOiJIUzI1NiJ9.e30.c2ln")}
	var tok string
	allocs := testing.AllocsPerRun(100, func() { tok, _, _ = s.credential(r) })
	if tok != "eyJhbGciOiJIUzI1NiJ9.e30.c2ln" {
		t.Fatalf("credential found %q; want the access cookie", tok)
	}
	if allocs != 0 {
		t.Errorf("credential with 3000 cookies: %v allocations per call; want 0", allocs)
	}
}

// BenchmarkCredentialCookies: the time to find the access cookie grows
// linearly with the number of cookies (go test -bench CredentialCookies
// ./authn/).
func BenchmarkCredentialCookies(b *testing.B) {
	s := &Service{cookies: newCookieNames("authgate", "")}
	for _, n := range []int{10, 100, 1000, 3000} {
		r := &http.Request{Header: manyCookies(n, "eyJhbGciOiJIUzI1NiJ9.e30.c2ln")}
		b.Run(fmt.Sprintf("cookies=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.credential(r)
			}
		})
	}
}
