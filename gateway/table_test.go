package gateway

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const explainConfig = `upstreams:
  users:
    targets: [http://10.0.0.5:8080, http://10.0.0.6:8080]
routes:
  - name: app
    hosts: [app.example.com]
    path: /
    upstream: http://127.0.0.1:3000
  - name: users-api
    hosts: [app.example.com]
    path: /api/users
    roles: [admin, ops]
    upstream: users
    strip_prefix: true
    login_redirect: false
  - name: public
    path: /
    auth: public
    upstream: builtin:echo
  - name: docs
    hosts: ["*.example.com"]
    path: /docs
    methods: [GET]
    auth: public
    upstream: builtin:echo
`

// TestExplain runs `authgate route` questions against one config and
// compares the answers with testdata/explain.golden.
func TestExplain(t *testing.T) {
	c, err := Loader{LookupEnv: envMap(nil)}.Parse("config.yaml", []byte(explainConfig))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, q := range []struct{ method, url string }{
		{"GET", "https://app.example.com/"},
		{"GET", "https://APP.example.com:8443/API/Users/42?x=1"},
		{"POST", "https://app.example.com/api/users"},
		{"GET", "https://app.example.com/public/%2e%2e/api/users/1"},
		{"GET", "https://app.example.com/api/users%2F1"},
		{"GET", "https://app.example.com/admin;x"},
		{"GET", "https://other.test/anything"},
		{"HEAD", "https://tenant.example.com/docs/intro"},
		{"POST", "https://tenant.example.com/docs/intro"},
		{"GET", "/auth/login"},
		{"GET", "app.example.com/x"},
	} {
		out.WriteString(Explain(c, q.method, q.url))
		out.WriteString("\n")
	}
	checkGolden(t, filepath.Join("testdata", "explain.golden"), out.String())
}

func TestExplainNoRoute(t *testing.T) {
	c, err := Loader{LookupEnv: envMap(nil)}.Parse("config.yaml", []byte("routes:\n  - hosts: [a.example.com]\n    upstream: builtin:echo\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Explain(c, "GET", "https://b.example.com/"); !strings.Contains(got, "no route: 404") {
		t.Errorf("Explain(GET https://b.example.com/) = %q; want no route: 404", got)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte(echoRoute), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("tls:\n  mode: nope\n"+echoRoute+"    upstream2: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Check(&out, good); err != nil {
		t.Fatalf("Check(good) = %v", err)
	}
	if !strings.Contains(out.String(), "builtin:echo") {
		t.Errorf("Check(good) wrote %q; want the route table", out.String())
	}
	out.Reset()
	err := Check(&out, bad)
	if err == nil {
		t.Fatal("Check(bad) = nil; want its problems")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 2 {
		t.Errorf("Check(bad) = %q; want two problems, one per line", err)
	}
	if out.Len() != 0 {
		t.Errorf("Check(bad) wrote %q; want nothing", out.String())
	}
}
