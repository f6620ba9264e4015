package federation

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImports holds doc.go's promise: federation's own code depends on the
// standard library, x/oauth2, go-oidc (and its go-jose) and internal/conf
// (and its YAML library) only — no authgate package above it, no database
// driver, no Redis client, no JWT library.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{
		"github.com/authgate/authgate/federation",
		"github.com/authgate/authgate/internal/conf",
		"golang.org/x/oauth2",
		"github.com/coreos/go-oidc/v3/",
		"github.com/go-jose/go-jose/v4",
		"gopkg.in/yaml.v3",
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Standard   bool
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Standard || strings.HasPrefix(p.ImportPath, "vendor/") {
			continue
		}
		ok := false
		for _, a := range allowed {
			if p.ImportPath == a || strings.HasPrefix(p.ImportPath, strings.TrimSuffix(a, "/")+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("federation depends on %s", p.ImportPath)
		}
	}
}
