package gateway

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/config")

// goldenEnv is the whole environment the golden configs see: nothing from
// the machine running the tests leaks into them.
func goldenEnv(name string) (string, bool) {
	env := map[string]string{
		"APP_HOST":          "app.example.com",
		"USERS_TARGET":      "http://10.0.0.7:8080",
		"EMPTY":             "",
		"NOT_A_NUMBER":      "twelve",
		"AUTHGATE_OPS_ADDR": "127.0.0.1:9191",
	}
	v, ok := env[name]
	return v, ok
}

// TestLoadGolden loads every config under testdata/config. A valid one
// (valid/*.yaml) must load and print the route table in its .table file;
// an invalid one (invalid/*.yaml) must fail with exactly the text of its
// .golden file. Each runs in a fresh directory holding the config and the
// files configs may name (certs/tls.crt, certs/tls.key, keys/ec.pem), so
// file names in messages are relative and stable. -update rewrites the
// golden files.
func TestLoadGolden(t *testing.T) {
	for _, kind := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join("testdata", "config", kind, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no configs in testdata/config/%s", kind)
		}
		for _, src := range files {
			name := strings.TrimSuffix(filepath.Base(src), ".yaml")
			t.Run(kind+"/"+name, func(t *testing.T) {
				data, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				golden, _ := filepath.Abs(strings.TrimSuffix(src, ".yaml"))
				dir := configDir(t)
				if err := os.WriteFile(filepath.Join(dir, "config.yaml"), data, 0o600); err != nil {
					t.Fatal(err)
				}
				t.Chdir(dir)
				c, err := Loader{LookupEnv: goldenEnv}.Load("config.yaml")
				if kind == "invalid" {
					if err == nil {
						t.Fatalf("Load(%s) = nil error; want the problems in %s.golden", src, name)
					}
					checkGolden(t, golden+".golden", err.Error()+"\n")
					return
				}
				if err != nil {
					t.Fatalf("Load(%s): %v", src, err)
				}
				var out bytes.Buffer
				if err := WriteRouteTable(&out, c); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, golden+".table", out.String())
			})
		}
	}
}

func checkGolden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got:\n%s--- want:\n%s", filepath.Base(file), got, want)
	}
}

// configDir makes a directory with a real self-signed certificate and key
// in certs/ and an ECDSA signing key in keys/, for configs that name them.
// Validation only checks that they exist, but real files keep the test
// honest if it ever parses them.
func configDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"certs", "keys"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "app.example.com"},
		DNSNames:     []string{"app.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "certs", "tls.crt"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(dir, "certs", "tls.key"), "PRIVATE KEY", pkcs8)
	writePEM(t, filepath.Join(dir, "keys", "ec.pem"), "PRIVATE KEY", pkcs8)
	return dir
}

func writePEM(t *testing.T, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
