package provider

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports: the provider reaches users, sessions and tokens only
// through its own interfaces (doc.go), so none of these may be among its
// dependencies.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/authgate/authgate/authn", "github.com/authgate/authgate/gateway", "github.com/authgate/authgate/upstream",
		"github.com/authgate/authgate/accounts", "github.com/authgate/authgate/tokens", "github.com/authgate/authgate/denylist",
		"github.com/authgate/authgate/store", "github.com/lib/pq", "modernc.org/sqlite", "github.com/jmoiron/sqlx",
		"github.com/redis/go-redis", "github.com/golang-jwt/jwt",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("provider depends on %s", dep)
			}
		}
	}
}
