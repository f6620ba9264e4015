package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/authgate/authgate"

// layers are the packages in their layer order (README "Code map"): a
// package may import only packages of a lower layer. Packages that serve
// only tests and tools are unlayered: no layered package may import them.
var layers = map[string]int{
	"identity":         0,
	"internal/problem": 0,
	"internal/conf":    0,
	"internal/park":    1,
	"tokens":           1,
	"store":            1,
	"federation":       1, // wired in by accounts and authn
	"provider":         1, // wired in by authn and gateway
	"denylist":         2,
	"accounts":         3,
	"authn":            4,
	"upstream":         4,
	"gateway":          5,
	"":                 6, // main: the CLI's wiring
}

// unlayered are the packages outside the layers: test support, the tests
// of the deployment files and of performance, tools, this one.
var unlayered = map[string]bool{
	"internal/testenv":           true,
	"internal/conftest":          true,
	"internal/archtest":          true,
	"bench":                      true,
	"deploy":                     true,
	"scripts/loadtest/backend":   true,
	"scripts/loadtest/bareproxy": true,
}

// forbiddenInProxy are import path prefixes that must not be among
// upstream's dependencies: it proxies every request and must stay free of
// the stores (issue 11).
var forbiddenInProxy = []string{
	"github.com/lib/pq", "modernc.org/sqlite", "github.com/jmoiron/sqlx", "database/sql",
	"github.com/redis/", "github.com/golang-jwt/",
}

type listed struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// list is `go list -json ./...` of the module, by path relative to it.
func list(t *testing.T) map[string]listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[rel(p.ImportPath)] = p
	}
	if len(pkgs) < len(layers) {
		t.Fatalf("go list found %d packages; the layers name %d", len(pkgs), len(layers))
	}
	return pkgs
}

// rel is an import path relative to the module ("" for the module
// itself), or the path itself outside the module.
func rel(path string) string {
	if path == module {
		return ""
	}
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	return path
}

func inModule(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

func name(p string) string {
	if p == "" {
		return "main (" + module + ")"
	}
	return p
}

// TestImportRules: every package has a place; no layered package imports
// one of its own layer or above, or a test or tool package; identity
// imports nothing of authgate's. Tests obey the same rules as the code
// they test.
func TestImportRules(t *testing.T) {
	for p, pkg := range list(t) {
		layer, layered := layers[p]
		if !layered && !unlayered[p] {
			t.Errorf("package %s is in no layer: give it one here and in the README's code map", name(p))
			continue
		}
		if !layered {
			continue
		}
		check := func(kind string, imports []string) {
			for _, imp := range imports {
				if !inModule(imp) || rel(imp) == p {
					continue
				}
				q := rel(imp)
				ql, qLayered := layers[q]
				switch {
				case kind != "imports" && unlayered[q]:
					// Tests may use test support (internal/testenv).
				case !qLayered:
					t.Errorf("%s %s %s, which serves tests and tools only", name(p), kind, name(q))
				case ql >= layer:
					t.Errorf("%s (layer %d) %s %s (layer %d): a package may import only lower layers", name(p), layer, kind, name(q), ql)
				}
			}
		}
		check("imports", pkg.Imports)
		check("imports in its tests", pkg.TestImports)
		check("imports in its external tests", pkg.XTestImports)
	}
}

// TestIdentityImportsNothingOfAuthgate: identity is the one value every
// layer passes on; it stands on the standard library alone.
func TestIdentityImportsNothingOfAuthgate(t *testing.T) {
	for _, imp := range list(t)["identity"].Imports {
		if strings.Contains(imp, ".") {
			t.Errorf("identity imports %s; it may import only the standard library", imp)
		}
	}
}

// TestProxyDependencies: `go list -deps ./upstream` holds no database
// driver, no Redis client and no JWT library.
func TestProxyDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", module+"/upstream")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps ./upstream listed %d packages: %v", len(deps), deps)
	}
	for _, d := range deps {
		for _, f := range forbiddenInProxy {
			if strings.HasPrefix(d, f) {
				t.Errorf("upstream depends on %s: the proxy must not pull in a database driver, a Redis client or a JWT library", d)
			}
		}
	}
}
