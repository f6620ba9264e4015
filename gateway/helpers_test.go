package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// testSecret is an HS256 secret that passes the secret rules, for test
// configs only.
const testSecret = "test-only-secret-4Kq9Zr2Xw7Lm0Pv5Ns8Tb3Yc6Hd1Jf"

// wantParseErrors loads yaml as file and fails unless every one of want
// is in the errors it reports.
func wantParseErrors(t *testing.T, file, yaml string, want ...string) {
	t.Helper()
	_, err := Loader{LookupEnv: noEnv}.Parse(file, []byte(yaml))
	if err == nil {
		t.Fatal("Parse = nil; want errors")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Parse = %v\nwant a line starting %s", err, w)
		}
	}
}
