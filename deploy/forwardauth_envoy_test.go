package deploy

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate/internal/testenv"
)

// Debian packages no Envoy (apt-cache policy envoy: none), so envoy.yaml is
// checked in two steps: against Envoy's API with go-control-plane
// (testenv.ValidateEnvoyConfig: every field, type and validation rule),
// then here, for the choices that decide security, against config.yaml.

const envoyConfigFile = "forward-auth/envoy/envoy.yaml"

type envoyMatcherList struct {
	Patterns []struct {
		Exact string `yaml:"exact"`
	} `yaml:"patterns"`
}

func (l envoyMatcherList) exact() []string {
	var out []string
	for _, p := range l.Patterns {
		out = append(out, p.Exact)
	}
	return out
}

type envoyHCM struct {
	UseRemoteAddress          bool `yaml:"use_remote_address"`
	XFFNumTrustedHops         int  `yaml:"xff_num_trusted_hops"`
	CommonHTTPProtocolOptions struct {
		HeadersWithUnderscoresAction string `yaml:"headers_with_underscores_action"`
	} `yaml:"common_http_protocol_options"`
	RouteConfig struct {
		VirtualHosts []struct {
			Name    string   `yaml:"name"`
			Domains []string `yaml:"domains"`
			Routes  []struct {
				Match struct {
					Prefix string `yaml:"prefix"`
				} `yaml:"match"`
				DirectResponse *struct {
					Status int `yaml:"status"`
				} `yaml:"direct_response"`
				TypedPerFilterConfig map[string]yaml.Node `yaml:"typed_per_filter_config"`
			} `yaml:"routes"`
			TypedPerFilterConfig map[string]struct {
				Disabled bool `yaml:"disabled"`
			} `yaml:"typed_per_filter_config"`
		} `yaml:"virtual_hosts"`
	} `yaml:"route_config"`
	HTTPFilters []struct {
		Name        string    `yaml:"name"`
		TypedConfig yaml.Node `yaml:"typed_config"`
	} `yaml:"http_filters"`
}

type envoyExtAuthz struct {
	FailureModeAllow bool             `yaml:"failure_mode_allow"`
	AllowedHeaders   envoyMatcherList `yaml:"allowed_headers"`
	WithRequestBody  *yaml.Node       `yaml:"with_request_body"`
	HTTPService      struct {
		ServerURI struct {
			Cluster string `yaml:"cluster"`
		} `yaml:"server_uri"`
		PathPrefix            string `yaml:"path_prefix"`
		AuthorizationResponse struct {
			AllowedUpstreamHeaders envoyMatcherList `yaml:"allowed_upstream_headers"`
		} `yaml:"authorization_response"`
	} `yaml:"http_service"`
}

type envoyHeaderMutation struct {
	Mutations struct {
		RequestMutations []struct {
			Remove string `yaml:"remove"`
		} `yaml:"request_mutations"`
	} `yaml:"mutations"`
}

type envoyBootstrap struct {
	StaticResources struct {
		Listeners []struct {
			FilterChains []struct {
				Filters []struct {
					Name        string   `yaml:"name"`
					TypedConfig envoyHCM `yaml:"typed_config"`
				} `yaml:"filters"`
			} `yaml:"filter_chains"`
		} `yaml:"listeners"`
		Clusters []struct {
			Name           string `yaml:"name"`
			LoadAssignment struct {
				Endpoints []struct {
					LBEndpoints []struct {
						Endpoint struct {
							Address struct {
								SocketAddress struct {
									PortValue int `yaml:"port_value"`
								} `yaml:"socket_address"`
							} `yaml:"address"`
						} `yaml:"endpoint"`
					} `yaml:"lb_endpoints"`
				} `yaml:"endpoints"`
			} `yaml:"load_assignment"`
		} `yaml:"clusters"`
	} `yaml:"static_resources"`
}

func lower(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = strings.ToLower(s)
	}
	return out
}

func TestEnvoyConfigValid(t *testing.T) {
	if problems, ok := testenv.ValidateEnvoyConfig(t, envoyConfigFile); !ok {
		t.Errorf("%s is not a valid Envoy bootstrap:\n%s", envoyConfigFile, problems)
	}
}

func TestEnvoyForwardAuth(t *testing.T) {
	c := readFAConfig(t)
	var bs envoyBootstrap
	if err := yaml.Unmarshal(readFile(t, envoyConfigFile), &bs); err != nil {
		t.Fatal(err)
	}
	hcms := 0
	for _, l := range bs.StaticResources.Listeners {
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				if f.Name == "envoy.filters.network.http_connection_manager" {
					hcms++
					checkEnvoyHCM(t, c, f.TypedConfig)
				}
			}
		}
	}
	if hcms == 0 {
		t.Fatalf("%s: no http_connection_manager", envoyConfigFile)
	}
	for _, cl := range bs.StaticResources.Clusters {
		if cl.Name != "authgate" {
			continue
		}
		for _, e := range cl.LoadAssignment.Endpoints {
			for _, lb := range e.LBEndpoints {
				if p := strconv.Itoa(lb.Endpoint.Address.SocketAddress.PortValue); p != authgatePort(t, c) {
					t.Errorf("%s: cluster authgate on port %s; config.yaml listens on %s", envoyConfigFile, p, authgatePort(t, c))
				}
			}
		}
	}
}

func checkEnvoyHCM(t *testing.T, c faConfig, hcm envoyHCM) {
	t.Helper()
	if !hcm.UseRemoteAddress || hcm.XFFNumTrustedHops != 0 {
		t.Errorf("%s: use_remote_address %v, xff_num_trusted_hops %d: at the edge Envoy must set X-Forwarded-For/-Proto itself", envoyConfigFile, hcm.UseRemoteAddress, hcm.XFFNumTrustedHops)
	}
	if a := hcm.CommonHTTPProtocolOptions.HeadersWithUnderscoresAction; a != "DROP_HEADER" && a != "REJECT_REQUEST" {
		t.Errorf("%s: headers_with_underscores_action %q: X_Auth_User would reach apps that read it as X-Auth-User", envoyConfigFile, a)
	}
	order := map[string]int{}
	for i, f := range hcm.HTTPFilters {
		order[f.Name] = i
		switch f.Name {
		case "envoy.filters.http.header_mutation":
			var hm envoyHeaderMutation
			if err := f.TypedConfig.Decode(&hm); err != nil {
				t.Fatal(err)
			}
			var removed []string
			for _, m := range hm.Mutations.RequestMutations {
				removed = append(removed, m.Remove)
			}
			if !sameHeaders(removed, c.headers) {
				t.Errorf("%s: header_mutation removes %q; want every identity header %q", envoyConfigFile, removed, lower(c.headers))
			}
		case "envoy.filters.http.ext_authz":
			var ea envoyExtAuthz
			if err := f.TypedConfig.Decode(&ea); err != nil {
				t.Fatal(err)
			}
			checkEnvoyExtAuthz(t, c, ea)
		}
	}
	hm, okHM := order["envoy.filters.http.header_mutation"]
	ea, okEA := order["envoy.filters.http.ext_authz"]
	if !okHM || !okEA || hm > ea {
		t.Errorf("%s: http_filters %v: header_mutation must strip clients' identity headers before ext_authz adds authgate's", envoyConfigFile, order)
	}
	login := c.loginHost(t)
	for _, vh := range hcm.RouteConfig.VirtualHosts {
		disabled := vh.TypedPerFilterConfig["envoy.filters.http.ext_authz"].Disabled
		for _, h := range c.appHosts {
			if slices.Contains(vh.Domains, h) && (disabled || len(vh.Routes) == 0 || vh.Routes[0].TypedPerFilterConfig != nil) {
				t.Errorf("%s: virtual host %s serves %s with ext_authz disabled somewhere", envoyConfigFile, vh.Name, h)
			}
		}
		if slices.Contains(vh.Domains, login) {
			if len(vh.Routes) == 0 || vh.Routes[0].Match.Prefix != c.verifyPath || vh.Routes[0].DirectResponse == nil {
				t.Errorf("%s: virtual host %s passes clients' %s on to authgate", envoyConfigFile, vh.Name, c.verifyPath)
			}
		}
	}
}

func checkEnvoyExtAuthz(t *testing.T, c faConfig, ea envoyExtAuthz) {
	t.Helper()
	if ea.FailureModeAllow {
		t.Errorf("%s: ext_authz failure_mode_allow lets every request through while authgate is down", envoyConfigFile)
	}
	if ea.HTTPService.PathPrefix != c.verifyPath {
		t.Errorf("%s: http_service.path_prefix %q; want %q", envoyConfigFile, ea.HTTPService.PathPrefix, c.verifyPath)
	}
	if ea.HTTPService.ServerURI.Cluster != "authgate" {
		t.Errorf("%s: http_service.server_uri.cluster %q; want authgate", envoyConfigFile, ea.HTTPService.ServerURI.Cluster)
	}
	if ea.WithRequestBody != nil {
		t.Errorf("%s: with_request_body: authgate reads no body", envoyConfigFile)
	}
	got := ea.HTTPService.AuthorizationResponse.AllowedUpstreamHeaders.exact()
	if !sameHeaders(got, c.headers) {
		t.Errorf("%s: allowed_upstream_headers %q; want config.yaml's identity headers %q", envoyConfigFile, got, lower(c.headers))
	}
	sent := ea.AllowedHeaders.exact()
	for _, need := range []string{"cookie", "accept", "sec-fetch-mode", "x-forwarded-proto"} {
		if !slices.Contains(sent, need) {
			t.Errorf("%s: ext_authz allowed_headers lacks %s", envoyConfigFile, need)
		}
	}
	for _, h := range sent {
		if slices.Contains(lower(notForAuthgate), h) && h != "x-forwarded-proto" && h != "x-forwarded-for" {
			t.Errorf("%s: ext_authz allowed_headers passes the client's %s on to authgate", envoyConfigFile, h)
		}
	}
}
