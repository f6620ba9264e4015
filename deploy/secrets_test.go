package deploy

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// placeholderProblem says why value, set for name in an example file,
// might be a real secret; "" when it cannot be.
func placeholderProblem(name, value string) string {
	if strings.Contains(value, "-----BEGIN") {
		return "holds a PEM block: commit a placeholder and generate the key at install time"
	}
	upper := strings.ToUpper(name)
	secretish := strings.Contains(upper, "SECRET") || strings.Contains(upper, "PASSWORD") ||
		strings.HasSuffix(upper, "_KEY") || strings.HasSuffix(upper, ".PEM") || strings.HasSuffix(upper, ".KEY")
	if secretish && value != "" && !strings.HasPrefix(value, placeholder) {
		return fmt.Sprintf("must be empty or start with %s", placeholder)
	}
	if secretish && strings.HasPrefix(value, placeholder) && !strings.Contains(upper, ".") && value != placeholder {
		return fmt.Sprintf("must be exactly %s (a longer text could pass as a signing secret)", placeholder)
	}
	if u, err := url.Parse(strings.TrimSpace(value)); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != placeholder {
			return fmt.Sprintf("the URL's password must be %s", placeholder)
		}
	}
	return ""
}

func TestPlaceholderProblem(t *testing.T) {
	tests := []struct {
		name, key, value string
		wantProblem      bool
	}{
		{name: "ok-empty-secret", key: "AUTHGATE_SECRET_KEY", value: ""},
		{name: "ok-placeholder-secret", key: "AUTHGATE_SECRET_KEY", value: "CHANGE-ME"},
		{name: "ok-placeholder-key-file", key: "es256.pem", value: "CHANGE-ME: the output of `authgate keygen`\n"},
		{name: "ok-url-placeholder-password", key: "AUTHGATE_DATABASE_URL", value: "postgres://u:CHANGE-ME@db/app"},
		{name: "ok-url-without-password", key: "AUTHGATE_REDIS_URL", value: "redis://127.0.0.1:6379/0"},
		{name: "ok-not-secret", key: "LOG_LEVEL", value: "info"},
		{name: "fail-real-looking-secret", key: "AUTHGATE_SECRET_KEY", value: "q0Vq2m5yH8b0Zp2uE3nT7cW1xK9rL4sA6dF8gJ2hQ5w", wantProblem: true},
		{name: "fail-long-placeholder-secret", key: "AUTHGATE_SECRET_KEY", value: "CHANGE-ME-to-something-at-least-32-bytes", wantProblem: true},
		{name: "fail-password", key: "POSTGRES_PASSWORD", value: "hunter2", wantProblem: true},
		{name: "fail-url-password", key: "AUTHGATE_DATABASE_URL", value: "postgres://u:hunter2@db/app", wantProblem: true},
		{name: "fail-pem", key: "es256.pem", value: "-----BEGIN PRIVATE KEY-----\nMIG…\n-----END PRIVATE KEY-----\n", wantProblem: true},
		{name: "fail-pem-under-any-name", key: "CONFIG", value: "-----BEGIN EC PRIVATE KEY-----", wantProblem: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := placeholderProblem(tt.key, tt.value)
			if (got != "") != tt.wantProblem {
				t.Errorf("placeholderProblem(%q, %q) = %q; want a problem: %v", tt.key, tt.value, got, tt.wantProblem)
			}
		})
	}
}

// TestExamplesHoldNoSecrets checks every example file meant to be copied
// and filled in: no value in them could be a real secret.
func TestExamplesHoldNoSecrets(t *testing.T) {
	type value struct{ file, name, value string }
	var values []value
	for _, f := range []string{".env.example", "systemd/authgate.env.example"} {
		for _, v := range readEnvFile(t, f) {
			values = append(values, value{f, v.Name, v.Value})
		}
	}
	secrets := 0
	for id, o := range kubernetesObjects(t) {
		if o.Kind == "Secret" {
			secrets++
			for k, v := range o.values(t) {
				values = append(values, value{"kubernetes " + id, k, v})
			}
		}
	}
	if secrets == 0 || len(values) == 0 {
		t.Fatalf("found %d Secrets and %d example values: the examples are missing", secrets, len(values))
	}
	for _, v := range values {
		if p := placeholderProblem(v.name, v.value); p != "" {
			t.Errorf("%s: %s %s", v.file, v.name, p)
		}
	}
}
