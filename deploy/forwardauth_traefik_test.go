package deploy

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// No Traefik runs here (not packaged for Debian; building it from the
// module proxy takes longer than all of deploy's other tests). Its files
// are decoded strictly, so that a misspelt option fails instead of being
// ignored the way Traefik ignores it, and the options that decide
// security are checked against config.yaml.

type traefikStatic struct {
	EntryPoints map[string]struct {
		Address string `yaml:"address"`
		HTTP    struct {
			Redirections struct {
				EntryPoint struct {
					To     string `yaml:"to"`
					Scheme string `yaml:"scheme"`
				} `yaml:"entryPoint"`
			} `yaml:"redirections"`
			TLS struct {
				CertResolver string `yaml:"certResolver"`
			} `yaml:"tls"`
		} `yaml:"http"`
		ForwardedHeaders struct {
			Insecure   bool     `yaml:"insecure"`
			TrustedIPs []string `yaml:"trustedIPs"`
		} `yaml:"forwardedHeaders"`
	} `yaml:"entryPoints"`
	CertificatesResolvers map[string]struct {
		ACME struct {
			Email        string    `yaml:"email"`
			Storage      string    `yaml:"storage"`
			TLSChallenge yaml.Node `yaml:"tlsChallenge"`
		} `yaml:"acme"`
	} `yaml:"certificatesResolvers"`
	Providers struct {
		File struct {
			Filename string `yaml:"filename"`
			Watch    bool   `yaml:"watch"`
		} `yaml:"file"`
	} `yaml:"providers"`
}

type traefikForwardAuth struct {
	Address                  string   `yaml:"address"`
	TrustForwardHeader       *bool    `yaml:"trustForwardHeader"`
	AuthRequestHeaders       []string `yaml:"authRequestHeaders"`
	AuthResponseHeaders      []string `yaml:"authResponseHeaders"`
	AuthResponseHeadersRegex string   `yaml:"authResponseHeadersRegex"`
}

type traefikDynamic struct {
	HTTP struct {
		Routers map[string]struct {
			EntryPoints []string `yaml:"entryPoints"`
			Rule        string   `yaml:"rule"`
			Middlewares []string `yaml:"middlewares"`
			Service     string   `yaml:"service"`
		} `yaml:"routers"`
		Middlewares map[string]struct {
			ForwardAuth *traefikForwardAuth `yaml:"forwardAuth"`
		} `yaml:"middlewares"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `yaml:"url"`
				} `yaml:"servers"`
			} `yaml:"loadBalancer"`
		} `yaml:"services"`
	} `yaml:"http"`
}

// decodeStrict decodes YAML refusing keys v does not name.
func decodeStrict(t *testing.T, name string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, name)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// authgatePort is the port config.yaml has authgate listen on, which every
// ingress config must send its checks to.
func authgatePort(t *testing.T, c faConfig) string {
	t.Helper()
	_, port, ok := strings.Cut(c.raw.Listen.HTTP, ":")
	if !ok || port == "" {
		t.Fatalf("%s: listen.http %q names no port", faConfigFileName, c.raw.Listen.HTTP)
	}
	return port
}

// notForAuthgate are request headers an ingress must never pass on from
// a client to the check: authgate reads the original request from them.
var notForAuthgate = []string{"X-Original-URL", "X-Original-Method", "X-Forwarded-Uri", "X-Forwarded-Host",
	"X-Forwarded-Method", "X-Forwarded-Proto", "X-Forwarded-For", "Forwarded"}

func TestTraefikForwardAuth(t *testing.T) {
	c := readFAConfig(t)
	var static traefikStatic
	decodeStrict(t, "forward-auth/traefik/traefik.yml", &static)
	var dyn traefikDynamic
	decodeStrict(t, "forward-auth/traefik/dynamic.yml", &dyn)

	if base := path.Base(static.Providers.File.Filename); base != "dynamic.yml" {
		t.Errorf("traefik.yml: providers.file.filename %q; want the dynamic.yml beside it", static.Providers.File.Filename)
	}
	for name, ep := range static.EntryPoints {
		if ep.ForwardedHeaders.Insecure {
			t.Errorf("traefik.yml: entry point %s believes every client's X-Forwarded-*", name)
		}
	}

	var faName string
	for name, m := range dyn.HTTP.Middlewares {
		if m.ForwardAuth != nil {
			faName = name
			checkTraefikMiddleware(t, c, m.ForwardAuth)
		}
	}
	if faName == "" {
		t.Fatal("dynamic.yml: no forwardAuth middleware")
	}
	login := c.loginHost(t)
	protected := map[string]bool{}
	for name, r := range dyn.HTTP.Routers {
		if _, ok := dyn.HTTP.Services[r.Service]; !ok {
			t.Errorf("dynamic.yml: router %s: service %q is not defined", name, r.Service)
		}
		for _, ep := range r.EntryPoints {
			if _, ok := static.EntryPoints[ep]; !ok {
				t.Errorf("dynamic.yml: router %s: entry point %q is not in traefik.yml", name, ep)
			}
		}
		for _, h := range c.appHosts {
			if strings.Contains(r.Rule, "Host(`"+h+"`)") {
				if !slices.Contains(r.Middlewares, faName) {
					t.Errorf("dynamic.yml: router %s serves %s without the %s middleware", name, h, faName)
				}
				protected[h] = true
			}
		}
		if strings.Contains(r.Rule, "Host(`"+login+"`)") && !strings.Contains(r.Rule, "!PathPrefix(`"+c.verifyPath+"`)") {
			t.Errorf("dynamic.yml: router %s passes clients' %s on to authgate", name, c.verifyPath)
		}
	}
	for _, h := range c.appHosts {
		if !protected[h] {
			t.Errorf("dynamic.yml: no router serves %s, a host of config.yaml's routes", h)
		}
	}
	authgate := "http://authgate:" + authgatePort(t, c)
	if s, ok := dyn.HTTP.Services["authgate"]; !ok || len(s.LoadBalancer.Servers) != 1 || s.LoadBalancer.Servers[0].URL != authgate {
		t.Errorf("dynamic.yml: service authgate %+v; want one server, %s", s, authgate)
	}
}

func checkTraefikMiddleware(t *testing.T, c faConfig, fa *traefikForwardAuth) {
	t.Helper()
	u, err := url.Parse(fa.Address)
	if err != nil || u.Path != c.verifyPath || u.Port() != authgatePort(t, c) {
		t.Errorf("dynamic.yml: forwardAuth.address %q; want authgate's %s on port %s", fa.Address, c.verifyPath, authgatePort(t, c))
	}
	if fa.TrustForwardHeader == nil || *fa.TrustForwardHeader {
		t.Errorf("dynamic.yml: forwardAuth.trustForwardHeader must be false, and said so")
	}
	if !sameHeaders(fa.AuthResponseHeaders, c.headers) {
		t.Errorf("dynamic.yml: forwardAuth.authResponseHeaders %q; want config.yaml's identity headers %q", fa.AuthResponseHeaders, c.headers)
	}
	// Without authRequestHeaders Traefik passes every client header on,
	// a forged X-Original-URL too.
	if len(fa.AuthRequestHeaders) == 0 {
		t.Error("dynamic.yml: forwardAuth.authRequestHeaders is empty: every client header would reach authgate")
	}
	for _, need := range []string{"Authorization", "Cookie", "Accept"} {
		if !slices.ContainsFunc(fa.AuthRequestHeaders, func(h string) bool { return strings.EqualFold(h, need) }) {
			t.Errorf("dynamic.yml: forwardAuth.authRequestHeaders lacks %s", need)
		}
	}
	for _, h := range fa.AuthRequestHeaders {
		if slices.ContainsFunc(append(slices.Clone(notForAuthgate), c.headers...), func(n string) bool { return strings.EqualFold(h, n) }) {
			t.Errorf("dynamic.yml: forwardAuth.authRequestHeaders passes the client's %s on to authgate", h)
		}
	}
	// Traefik deletes the request's headers the regex matches, then copies
	// the answer's: Go canonicalises names, so test those spellings.
	re, err := regexp.Compile(fa.AuthResponseHeadersRegex)
	if err != nil {
		t.Fatalf("dynamic.yml: forwardAuth.authResponseHeadersRegex: %v", err)
	}
	for _, h := range c.headers {
		for _, spelling := range []string{h, strings.ReplaceAll(h, "-", "_")} {
			if key := textproto.CanonicalMIMEHeaderKey(spelling); !re.MatchString(key) {
				t.Errorf("dynamic.yml: forwardAuth.authResponseHeadersRegex does not match %s: a client's copy would pass", key)
			}
		}
	}
	for _, h := range []string{"Authorization", "Cookie", "Content-Type", "X-Forwarded-For", "Location"} {
		if re.MatchString(http.CanonicalHeaderKey(h)) {
			t.Errorf("dynamic.yml: forwardAuth.authResponseHeadersRegex matches %s", h)
		}
	}
}
