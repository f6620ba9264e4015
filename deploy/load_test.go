package deploy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate/gateway"
	"github.com/authgate/authgate/internal/conf"
)

// placeholderValue returns a harmless value of the right shape for a
// variable a deploy config reads. A new variable needs a row here: the
// test refuses to guess.
func placeholderValue(t *testing.T, name string) string {
	t.Helper()
	switch name {
	case "AUTHGATE_SECRET_KEY":
		b := make([]byte, 24)
		rand.Read(b)
		return hex.EncodeToString(b) // 48 bytes
	case "AUTHGATE_DATABASE_URL":
		return "postgres://user:pass@db:5432/authgate?sslmode=disable"
	case "AUTHGATE_REDIS_URL":
		return "redis://redis:6379/0"
	}
	t.Fatalf("no placeholder value for %s: add one to placeholderValue", name)
	return ""
}

// stageConfig writes d's config as config.yaml in a fresh directory and
// creates, with real generated content, every file it names (as a
// production deployment would: the key from the Secret, the certificate
// files). It returns the config's path.
func stageConfig(t *testing.T, d deployment) string {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, d.config, 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := configFiles(d.config)
	if err != nil {
		t.Fatalf("%s: %v", d.configFile, err)
	}
	var alg struct {
		Tokens struct {
			Algorithm string `yaml:"algorithm"`
		} `yaml:"tokens"`
	}
	if err := yaml.Unmarshal(d.config, &alg); err != nil {
		t.Fatalf("%s: %v", d.configFile, err)
	}
	cert, certKey := selfSignedPEM(t)
	for _, f := range files {
		if filepath.IsAbs(f.Path) {
			t.Fatalf("%s: %s: %s is absolute, so the test cannot provide it: name it relative to the config's directory", d.configFile, f.Key, f.Path)
		}
		var content []byte
		switch f.Key {
		case "tls.cert_file", "tls.acme.ca_file":
			content = cert
		case "tls.key_file":
			content = certKey
		case "tokens.private_key_file":
			content = privateKeyPEM(t, newSigningKey(t, alg.Tokens.Algorithm))
		default: // tokens.verify_keys[i]
			content = publicKeyPEM(t, newSigningKey(t, alg.Tokens.Algorithm).Public())
		}
		name := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cfgPath
}

func newSigningKey(t *testing.T, alg string) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("tokens.algorithm %q names a key file but is not an asymmetric algorithm", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func privateKeyPEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func publicKeyPEM(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// selfSignedPEM returns a certificate for app.example.com and its key.
func selfSignedPEM(t *testing.T) (cert, key []byte) {
	t.Helper()
	k := newSigningKey(t, "ES256")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "app.example.com"},
		DNSNames:     []string{"app.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), privateKeyPEM(t, k)
}

// setConfigEnv sets every variable d's config reads: those d gives to
// value(name), the others to "" (what the loader makes of an unset one),
// so that the developer's own environment cannot change the outcome.
func setConfigEnv(t *testing.T, d deployment, value func(string) string) {
	t.Helper()
	refs, err := yamlRefs(d.config, configRefs)
	if err != nil {
		t.Fatalf("%s: %v", d.configFile, err)
	}
	for _, name := range names(refs, false) {
		v := ""
		if _, given := d.given[name]; given {
			v = value(name)
		}
		t.Setenv(name, v)
	}
}

// TestConfigsLoad loads every deployment's config with the real loader,
// given placeholder values for the variables its deployment sets.
func TestConfigsLoad(t *testing.T) {
	for _, d := range deployments(t) {
		t.Run(d.name, func(t *testing.T) {
			cfgPath := stageConfig(t, d)
			setConfigEnv(t, d, func(name string) string { return placeholderValue(t, name) })
			cfg, err := gateway.Load(cfgPath)
			if err != nil {
				for _, e := range conf.Unjoin(err) {
					t.Errorf("%s: %v", d.configFile, e)
				}
				return
			}
			if r := cfg.Redis; r.URL != "" && r.OnError != "deny" {
				t.Errorf("%s: redis.on_error = %q; want deny: a deployment fails closed", d.configFile, r.OnError)
			}
		})
	}
}

// TestSystemdExampleEnvFailsClosed loads the systemd config with
// authgate.env.example as it is committed: an operator who forgets to
// replace the placeholder secret must get a refusal, not a gateway that
// signs tokens with a published key.
func TestSystemdExampleEnvFailsClosed(t *testing.T) {
	d := systemdDeployment(t)
	example := map[string]string{}
	for _, v := range readEnvFile(t, "systemd/authgate.env.example") {
		example[v.Name] = v.Value
	}
	cfgPath := stageConfig(t, d)
	setConfigEnv(t, d, func(name string) string { return example[name] })
	_, err := gateway.Load(cfgPath)
	if err == nil {
		t.Fatalf("Load(%s) with authgate.env.example = nil error; want a problem at tokens.secret", d.configFile)
	}
	var paths []string
	for _, e := range conf.Unjoin(err) {
		var ce *gateway.ConfigError
		if errors.As(e, &ce) {
			paths = append(paths, ce.Path)
			if ce.Path == "tokens.secret" {
				return
			}
		}
	}
	t.Errorf("Load(%s) with authgate.env.example: problems at %q; want one at tokens.secret (%v)", d.configFile, paths, err)
}
