package gateway

import (
	"strings"
	"testing"
)

// TestListenAddressesClash: two listeners on one address cannot both
// bind, so the config is refused; port 0 is no clash — the kernel gives
// each listener a port of its own, and says which in the "listeners" log
// line (what the tests' gateways rely on).
func TestListenAddressesClash(t *testing.T) {
	tests := []struct {
		name    string
		listen  string
		wantErr string // "" = valid
	}{
		{name: "ok-distinct", listen: "  https: \"127.0.0.1:8443\"\n  http: \"127.0.0.1:8080\"\n  ops: \"127.0.0.1:9090\"\n"},
		{name: "ok-port-0-everywhere", listen: "  https: \"127.0.0.1:0\"\n  http: \"127.0.0.1:0\"\n  ops: \"127.0.0.1:0\"\n"},
		{name: "fail-same-address", listen: "  https: \"127.0.0.1:8443\"\n  http: \"127.0.0.1:8443\"\n  ops: \"127.0.0.1:9090\"\n",
			wantErr: `listen.http: "127.0.0.1:8443" is also listen.https`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := "listen:\n" + tt.listen + "tls:\n  mode: self_signed\ndatabase:\n  url: sqlite:" + dir + "/a.db\n" +
				"tokens:\n  secret: " + testSecret + "\nroutes:\n  - path: /\n    upstream: builtin:echo\n"
			p := dir + "/config.yaml"
			writeFile(t, p, []byte(cfg))
			_, err := Load(p)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Load = %v; want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Load = %v; want an error with %q", err, tt.wantErr)
			}
		})
	}
}
