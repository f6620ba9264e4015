package deploy

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The Kubernetes examples need a cluster and a gateway implementation to
// run; here their fields are checked against config.yaml.

type gatewayFilter struct {
	Type                  string `yaml:"type"`
	RequestHeaderModifier *struct {
		Remove []string `yaml:"remove"`
	} `yaml:"requestHeaderModifier"`
	ExternalAuth *struct {
		Protocol   string `yaml:"protocol"`
		BackendRef struct {
			Name string `yaml:"name"`
			Port int    `yaml:"port"`
		} `yaml:"backendRef"`
		HTTP struct {
			Path                   string   `yaml:"path"`
			AllowedHeaders         []string `yaml:"allowedHeaders"`
			AllowedResponseHeaders []string `yaml:"allowedResponseHeaders"`
		} `yaml:"http"`
	} `yaml:"externalAuth"`
}

type httpRoute struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Hostnames []string `yaml:"hostnames"`
		Rules     []struct {
			Matches []struct {
				Path struct {
					Value string `yaml:"value"`
				} `yaml:"path"`
			} `yaml:"matches"`
			Filters     []gatewayFilter `yaml:"filters"`
			BackendRefs []struct {
				Name string `yaml:"name"`
			} `yaml:"backendRefs"`
		} `yaml:"rules"`
	} `yaml:"spec"`
}

type ingress struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		Rules []struct {
			Host string `yaml:"host"`
		} `yaml:"rules"`
	} `yaml:"spec"`
}

// decodeDocs decodes every document of a YAML file into a new T.
func decodeDocs[T any](t *testing.T, name string) []T {
	t.Helper()
	docs, err := yamlDocs(readFile(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := make([]T, len(docs))
	for i, d := range docs {
		if err := d.Decode(&out[i]); err != nil {
			t.Fatalf("%s: document %d: %v", name, i+1, err)
		}
	}
	return out
}

func TestGatewayAPIForwardAuth(t *testing.T) {
	const file = "forward-auth/kubernetes/gateway-api.yaml"
	c := readFAConfig(t)
	login := c.loginHost(t)
	protected := map[string]bool{}
	for _, r := range decodeDocs[httpRoute](t, file) {
		if r.Kind != "HTTPRoute" {
			continue
		}
		for _, h := range r.Spec.Hostnames {
			if slices.Contains(c.appHosts, h) {
				protected[h] = true
				for i, rule := range r.Spec.Rules {
					checkGatewayRule(t, c, file, i, rule.Filters)
				}
			}
			if h == login {
				first := r.Spec.Rules[0]
				if len(first.Matches) == 0 || first.Matches[0].Path.Value != c.verifyPath || len(first.BackendRefs) != 0 {
					t.Errorf("%s: the HTTPRoute for %s must first keep clients' %s from authgate", file, h, c.verifyPath)
				}
			}
		}
	}
	for _, h := range c.appHosts {
		if !protected[h] {
			t.Errorf("%s: no HTTPRoute serves %s, a host of config.yaml's routes", file, h)
		}
	}
}

func checkGatewayRule(t *testing.T, c faConfig, file string, i int, filters []gatewayFilter) {
	t.Helper()
	stripped := false
	for _, f := range filters {
		switch f.Type {
		case "RequestHeaderModifier":
			if f.RequestHeaderModifier != nil && sameHeaders(f.RequestHeaderModifier.Remove, c.headers) {
				stripped = true
			}
		case "ExternalAuth":
			ea := f.ExternalAuth
			if ea == nil {
				t.Fatalf("%s: rule %d: ExternalAuth filter without externalAuth", file, i)
			}
			if !stripped {
				t.Errorf("%s: rule %d: no RequestHeaderModifier removing %q before ExternalAuth", file, i, c.headers)
			}
			if ea.Protocol != "HTTP" || ea.HTTP.Path != c.verifyPath {
				t.Errorf("%s: rule %d: ExternalAuth %s %q; want HTTP %s", file, i, ea.Protocol, ea.HTTP.Path, c.verifyPath)
			}
			if p := strconv.Itoa(ea.BackendRef.Port); ea.BackendRef.Name != "authgate" || p != authgatePort(t, c) {
				t.Errorf("%s: rule %d: ExternalAuth backend %s:%s; want authgate:%s", file, i, ea.BackendRef.Name, p, authgatePort(t, c))
			}
			if !sameHeaders(ea.HTTP.AllowedResponseHeaders, c.headers) {
				t.Errorf("%s: rule %d: allowedResponseHeaders %q; want config.yaml's identity headers %q", file, i, ea.HTTP.AllowedResponseHeaders, c.headers)
			}
			if !slices.Contains(ea.HTTP.AllowedHeaders, "Cookie") {
				t.Errorf("%s: rule %d: allowedHeaders lacks Cookie: browsers' sessions would not reach authgate", file, i)
			}
			for _, h := range ea.HTTP.AllowedHeaders {
				if slices.ContainsFunc(notForAuthgate, func(n string) bool { return strings.EqualFold(h, n) }) && !strings.EqualFold(h, "X-Forwarded-Proto") {
					t.Errorf("%s: rule %d: allowedHeaders passes the client's %s on to authgate", file, i, h)
				}
			}
			return
		}
	}
	t.Errorf("%s: rule %d of a protected host has no ExternalAuth filter", file, i)
}

func TestIngressNginxForwardAuth(t *testing.T) {
	const file = "forward-auth/kubernetes/ingress-nginx.yaml"
	const ann = "nginx.ingress.kubernetes.io/"
	c := readFAConfig(t)
	found := 0
	for _, ing := range decodeDocs[ingress](t, file) {
		if ing.Kind != "Ingress" {
			continue
		}
		found++
		a := ing.Metadata.Annotations
		u, err := url.Parse(a[ann+"auth-url"])
		if err != nil || u.Path != c.verifyPath || u.Port() != authgatePort(t, c) {
			t.Errorf("%s: auth-url %q; want authgate's %s on port %s", file, a[ann+"auth-url"], c.verifyPath, authgatePort(t, c))
		}
		// ingress-nginx appends ?rd=<original URL> itself.
		if got := a[ann+"auth-signin"]; got != c.loginURL {
			t.Errorf("%s: auth-signin %q; want forward_auth.login_url %q", file, got, c.loginURL)
		}
		if got := strings.Split(a[ann+"auth-response-headers"], ","); !sameHeaders(got, c.headers) {
			t.Errorf("%s: auth-response-headers %q; want config.yaml's identity headers %q", file, got, c.headers)
		}
		for _, r := range ing.Spec.Rules {
			if !slices.Contains(c.appHosts, r.Host) {
				t.Errorf("%s: host %s is not a host of config.yaml's routes: authgate would refuse its checks", file, r.Host)
			}
		}
	}
	if found == 0 {
		t.Fatalf("%s: no Ingress", file)
	}
}
