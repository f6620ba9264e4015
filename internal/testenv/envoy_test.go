package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envoyMinimal is a valid bootstrap with an ext_authz HTTP filter; the
// fail- rows change one line of it.
const envoyMinimal = `static_resources:
  listeners:
    - name: l
      address: {socket_address: {address: 127.0.0.1, port_value: 8080}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: s
                route_config:
                  virtual_hosts:
                    - {name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: app}}]}
                http_filters:
                  - name: envoy.filters.http.ext_authz
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
                      http_service:
                        server_uri: {uri: http://authgate:8080, cluster: authgate, timeout: 1s}
                        path_prefix: /auth/verify
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`

func TestValidateEnvoyConfig(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           string // in the problems; "" for a valid file
	}{
		{name: "ok-minimal"},
		{name: "fail-unknown-field", old: "path_prefix:", new: "path_prefx:", want: `unknown field "path_prefx"`},
		{name: "fail-unknown-type", old: "ext_authz.v3.ExtAuthz", new: "ext_authz.v3.ExtAuth", want: "ExtAuth"},
		{name: "fail-rule-in-typed-config", old: "route: {cluster: app}", new: `route: {cluster: ""}`, want: "RouteAction.Cluster"},
		{name: "fail-rule", old: "port_value: 8080", new: "port_value: 80800", want: "PortValue"},
		{
			name: "fail-deprecated", old: "path_prefix: /auth/verify",
			new:  "path_prefix: /auth/verify\n                        authorization_request: {allowed_headers: {patterns: [{exact: cookie}]}}",
			want: "deprecated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(envoyMinimal, tt.old, tt.new, 1)
			if tt.old != "" && text == envoyMinimal {
				t.Fatalf("%q is not in the minimal config", tt.old)
			}
			file := filepath.Join(t.TempDir(), "envoy.yaml")
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			problems, ok := ValidateEnvoyConfig(t, file)
			if ok != (tt.want == "") || !strings.Contains(problems, tt.want) {
				t.Errorf("ValidateEnvoyConfig = %v, %q; want problems containing %q", ok, problems, tt.want)
			}
		})
	}
}
