package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/internal/problem"
	"github.com/authgate/authgate/upstream"
)

func (c *Config) validateRoutes(p *conf.Problems) {
	if len(c.Routes) == 0 {
		p.Addf("routes", "at least one route is required")
		return
	}
	names := map[string]int{}
	for i := range c.Routes {
		rt := &c.Routes[i]
		path := fmt.Sprintf("routes[%d]", i)
		checkRouteMatch(p, c.Routes, i)
		switch first, dup := names[rt.Name]; {
		case rt.Name == "":
			p.Addf(path+".name", "must not be empty")
		case dup && !routesOverlap(&c.Routes[first], rt):
			// Routes that overlap get the overlap problem below, which
			// says more than the clash of their (derived) names.
			p.Addf(path+".name", "%q is already the name of routes[%d]", rt.Name, first)
		case !dup:
			names[rt.Name] = i
		}
		switch rt.Auth {
		case "required":
		case "public":
			if len(rt.Roles) > 0 {
				p.Addf(path+".roles", "roles apply only to auth: required, and this route is public")
			}
		default:
			p.Addf(path+".auth", "%q must be public or required", rt.Auth)
		}
		for j, role := range rt.Roles {
			if role == "" || strings.ContainsAny(role, ", \t") {
				p.Addf(fmt.Sprintf("%s.roles[%d]", path, j), "%q is not a role name: no commas or spaces (roles travel comma-separated)", role)
			}
		}
		checkUpgrades(p, path+".upgrades", rt.Upgrades)
		c.validateUpstreamRef(p, path+".upstream", rt.Upstream)
		if pre := c.AuthAPI.Prefix; strings.HasPrefix(pre, "/") && pre != "/" && hasPathPrefixFold(rt.Path, strings.ToLower(pre)) {
			p.Addf(path+".path", "%q is under auth_api.prefix %q: the auth API is never shadowed by a route", rt.Path, pre)
		}
	}
	checkRouteOverlaps(p, c.Routes)
	c.checkOAuthResources(p)
}

// checkUpgrades checks a route's upgrades: protocols as the Upgrade
// header names them (RFC 9110 §7.8: a token, optionally "/" and a
// version token), each once.
func checkUpgrades(p *conf.Problems, path string, upgrades []string) {
	for j, u := range upgrades {
		up := fmt.Sprintf("%s[%d]", path, j)
		name, version, hasVersion := strings.Cut(u, "/")
		switch {
		case !upstream.ValidHeaderName(name) || hasVersion && !upstream.ValidHeaderName(version):
			p.Addf(up, "%q is not a protocol: a token, optionally \"/\" and a version (RFC 9110 §7.8), e.g. websocket or h2c", u)
		case strings.EqualFold(u, "h2"):
			p.Addf(up, `"h2" is negotiated by TLS (ALPN), never by Upgrade (RFC 9113 §3.2): HTTP/2 clients need no entry here`)
		default:
			if k := slices.IndexFunc(upgrades[:j], func(o string) bool { return strings.EqualFold(o, u) }); k >= 0 {
				p.Addf(up, "%q is listed twice (also upgrades[%d])", u, k)
			}
		}
	}
}

// validateUpstreamRef checks a route's upstream: builtin:echo, an http(s)
// URL, or the name of a pool under upstreams.
func (c *Config) validateUpstreamRef(p *conf.Problems, path, up string) {
	switch {
	case up == "":
		p.Addf(path, "required: an http(s) URL, %s, the name of a pool under upstreams, or %s (forward-auth checks only)", upstream.BuiltinEcho, UpstreamNone)
	case up == UpstreamNone:
		if _, ok := c.Upstream.Upstreams[up]; ok {
			p.Addf(path, "%q names a pool under upstreams and means forward-auth only: rename the pool", up)
		}
	case strings.HasPrefix(up, "builtin:"):
		if up != upstream.BuiltinEcho {
			p.Addf(path, "%q is not a built-in upstream: the only one is %s", up, upstream.BuiltinEcho)
		}
	case strings.Contains(up, ":"):
		// Pool names cannot hold ":", so this is meant as a URL.
		if _, err := upstream.ParseTarget(up); err != nil {
			p.Add(path, err)
		}
	default:
		if _, ok := c.Upstream.Upstreams[up]; !ok {
			p.Addf(path, "%q is not defined under upstreams", up)
		}
	}
}

// checkRouteMatch checks what matching routes[i] relies on: a canonical
// path, host patterns the router understands, method tokens. NewRouter
// and Validate both use it.
func checkRouteMatch(p *conf.Problems, routes []Route, i int) {
	rt := &routes[i]
	path := fmt.Sprintf("routes[%d]", i)
	if msg := routePathProblem(rt.Path); msg != "" {
		p.Addf(path+".path", "%s", msg)
	}
	for j, h := range rt.Hosts {
		hp := fmt.Sprintf("%s.hosts[%d]", path, j)
		if msg := routeHostProblem(strings.ToLower(h)); msg != "" {
			p.Addf(hp, "%s", msg)
			continue
		}
		if k := slices.IndexFunc(rt.Hosts[:j], func(o string) bool { return strings.EqualFold(o, h) }); k >= 0 {
			p.Addf(hp, "%q is listed twice (also hosts[%d])", h, k)
		}
	}
	for j, m := range rt.Methods {
		mp := fmt.Sprintf("%s.methods[%d]", path, j)
		switch {
		case m == "*":
			p.Addf(mp, `"*" is not a method: leave methods out to match every method`)
		case !upstream.ValidHeaderName(m): // a method is a token, as a field name is (RFC 9110 §9.1)
			p.Addf(mp, "%q is not a method name", m)
		default:
			if k := slices.IndexFunc(rt.Methods[:j], func(o string) bool { return strings.EqualFold(o, m) }); k >= 0 {
				p.Addf(mp, "%q is listed twice (also methods[%d])", m, k)
			}
		}
	}
}

// routePathProblem explains why a route path is not usable as a match
// prefix, or returns "".
func routePathProblem(p string) string {
	if p == "" {
		return `required: the path prefix to match, e.g. "/"`
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Sprintf("%q must start with \"/\"", p)
	}
	canon, err := CanonicalPath(p)
	if err != nil {
		return fmt.Sprintf("%q is not a usable path: %s", p, strings.TrimPrefix(err.Error(), problem.ErrBadPath.Error()+": "))
	}
	if canon != p {
		return fmt.Sprintf("%q is not canonical: write %q (requests are matched after canonicalisation)", p, strings.TrimSuffix(canon, "/"))
	}
	if p != "/" && strings.HasSuffix(p, "/") {
		return fmt.Sprintf("%q must not end with \"/\": a prefix matches whole segments, so %q already covers %q", p, strings.TrimSuffix(p, "/"), p+"…")
	}
	return ""
}

// routeHostProblem explains why h (lower case) is not a route host pattern,
// or returns "". A pattern is an exact name, an IP address, or "*." and a
// name of at least two labels.
func routeHostProblem(h string) string {
	const wildcardRule = `"*" may only be the whole first label, as in "*.example.com"`
	switch {
	case h == "":
		return "must not be empty"
	case h == "*":
		return `"*" would match every host: leave hosts out to match any host`
	case strings.HasPrefix(h, "*."):
		rest := h[2:]
		if strings.Contains(rest, "*") {
			return fmt.Sprintf("%q: %s", h, wildcardRule)
		}
		if !strings.Contains(strings.TrimSuffix(rest, "."), ".") {
			return fmt.Sprintf("%q would match every name under a top-level domain: put at least two labels after \"*.\"", h)
		}
		if msg := dnsNameProblem(rest); msg != "" {
			return fmt.Sprintf("%q %s", h, msg)
		}
		return ""
	case strings.Contains(h, "*"):
		return fmt.Sprintf("%q: %s", h, wildcardRule)
	case isIPLiteral(h):
		// Requests name an address one way only (ParseHost): a route
		// host no request can name would never match.
		if a, _ := netip.ParseAddr(h); a.Zone() != "" || a.Is4In6() {
			return fmt.Sprintf("%q is an address no request names: no zone, and an IPv4 address as itself, not IPv4-mapped", h)
		}
		return ""
	case strings.Contains(h, ":"):
		return fmt.Sprintf("%q must not include a port: hosts are matched without it", h)
	}
	if msg := dnsNameProblem(h); msg != "" {
		return fmt.Sprintf("%q %s", h, msg)
	}
	return ""
}

// dnsNameProblem checks a host name (RFC 1123 §2.1; "_" is let through,
// as container and service names use it).
func dnsNameProblem(h string) string {
	if len(h) > maxHostLen {
		return "is longer than 253 characters"
	}
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			return "must be ASCII: write an international name in its xn-- form"
		}
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if isNumericLabel(last) {
		// Browsers read such a name as an IPv4 address (WHATWG URL
		// "ends in a number"), and ParseHost refuses it in requests.
		return "ends in a number, so clients read it as an IPv4 address: write an address as four decimal numbers"
	}
	for label := range strings.SplitSeq(h, ".") {
		switch {
		case label == "":
			return "has an empty label"
		case len(label) > 63:
			return "has a label longer than 63 characters"
		case label[0] == '-' || label[len(label)-1] == '-':
			return `has a label that starts or ends with "-"`
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("has the character %q, not allowed in a host name", c)
			}
		}
	}
	return ""
}

// routeOverlaps finds routes that match the same requests as an earlier
// route: the same path (compared as matching compares it), a host in
// common or both without hosts, and methods in common or both without
// methods. out[j] is the first such earlier route, or -1.
func routeOverlaps(routes []Route) []int {
	out := make([]int, len(routes))
	for j := range routes {
		out[j] = -1
		for i := range j {
			if routesOverlap(&routes[i], &routes[j]) {
				out[j] = i
				break
			}
		}
	}
	return out
}

func routesOverlap(a, b *Route) bool {
	if !strings.EqualFold(a.Path, b.Path) {
		return false
	}
	if (len(a.Hosts) == 0) != (len(b.Hosts) == 0) {
		return false // a host beats no host: not ambiguous
	}
	if len(a.Hosts) > 0 && !anyFold(a.Hosts, b.Hosts) {
		return false
	}
	if (len(a.Methods) == 0) != (len(b.Methods) == 0) {
		return false // methods beat no methods
	}
	return len(a.Methods) == 0 || anyFold(matchMethods(a.Methods), matchMethods(b.Methods))
}

// anyFold reports whether a and b share an element, ignoring ASCII case.
func anyFold(a, b []string) bool {
	for _, x := range a {
		if containsFold(b, x) {
			return true
		}
	}
	return false
}

// checkRouteOverlaps records every route that matches the same requests as
// an earlier one.
func checkRouteOverlaps(p *conf.Problems, routes []Route) {
	for j, i := range routeOverlaps(routes) {
		if i >= 0 {
			p.Add(fmt.Sprintf("routes[%d]", j), errors.New(overlapMsg(i, routes[i].Name)))
		}
	}
}

func overlapMsg(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("matches the same requests as routes[%d]: same hosts, path and methods", i)
	}
	return fmt.Sprintf("matches the same requests as routes[%d] (%q): same hosts, path and methods", i, name)
}
