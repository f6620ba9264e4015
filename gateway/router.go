package gateway

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/conf"
)

// Router picks the route for a request. It is built once from validated
// routes and only read afterwards, so one Router serves every request
// without locking.
//
// The most specific route wins (DESIGN "Route choice"):
//  1. an exact host beats a wildcard host beats a route without hosts;
//  2. then the longest path prefix, on whole segments;
//  3. then a route that lists methods beats one that does not.
//
// A more specific host is tried first and the next level only when none of
// its routes matches the path and method: a request for app.example.com/x
// reaches a host-less "/x" route if the app.example.com routes only cover
// "/api".
type Router struct {
	exact    map[string][]routeEntry // by lower-case host
	wildcard map[string][]routeEntry // "*.example.com" by "example.com"
	anyHost  []routeEntry
}

// routeEntry is a route as the matcher needs it; entries of one host level
// are sorted so that the first match is the most specific.
type routeEntry struct {
	index   int      // into the routes given to NewRouter
	path    string   // lower case: paths match case-insensitively
	methods []string // upper case, with HEAD added when GET is listed; nil = any
}

// NewRouter builds the router for routes, which must have been defaulted
// (Load does that). It re-checks what matching depends on — canonical
// paths, host patterns, no two routes matching the same requests — and
// fails rather than resolve an ambiguity at random.
func NewRouter(routes []Route) (*Router, error) {
	var p conf.Problems
	for i := range routes {
		checkRouteMatch(&p, routes, i)
	}
	checkRouteOverlaps(&p, routes)
	if err := p.Err(); err != nil {
		return nil, err
	}
	r := &Router{exact: map[string][]routeEntry{}, wildcard: map[string][]routeEntry{}}
	for i, rt := range routes {
		e := routeEntry{index: i, path: strings.ToLower(rt.Path), methods: matchMethods(rt.Methods)}
		if len(rt.Hosts) == 0 {
			r.anyHost = append(r.anyHost, e)
			continue
		}
		for _, h := range rt.Hosts {
			h = routeHostKey(h)
			if parent, ok := strings.CutPrefix(h, "*."); ok {
				r.wildcard[parent] = append(r.wildcard[parent], e)
			} else {
				r.exact[h] = append(r.exact[h], e)
			}
		}
	}
	sortEntries(r.anyHost)
	for _, l := range r.exact {
		sortEntries(l)
	}
	for _, l := range r.wildcard {
		sortEntries(l)
	}
	return r, nil
}

// routeHostKey is a route host as Match looks it up: lower case, and an
// IP address in the form ParseHost gives requests (RFC 5952 for IPv6).
func routeHostKey(h string) string {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String()
	}
	return strings.ToLower(h)
}

// matchMethods returns the methods a route answers, upper case. RFC 9110
// §9.3.2: HEAD is GET without the body, so a route for GET serves HEAD.
func matchMethods(methods []string) []string {
	if len(methods) == 0 {
		return nil
	}
	out := make([]string, 0, len(methods)+1)
	for _, m := range methods {
		out = append(out, strings.ToUpper(m))
	}
	if slices.Contains(out, "GET") && !slices.Contains(out, "HEAD") {
		out = append(out, "HEAD")
	}
	return out
}

// sortEntries orders one host level: longest path first, then routes with
// methods before routes without, then config order.
func sortEntries(l []routeEntry) {
	slices.SortStableFunc(l, func(a, b routeEntry) int {
		if c := cmp.Compare(len(b.path), len(a.path)); c != 0 {
			return c
		}
		if (a.methods == nil) != (b.methods == nil) {
			if a.methods != nil {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.index, b.index)
	})
}

// Match returns the index of the route for a request, or ok false (404).
// host is the request's Host.Name from ParseHost: lower case, no port,
// no trailing dot; "" when the request names no host, which only routes
// without hosts match. A Host that ParseHost refuses never gets here (it
// is a 400), so no malformed spelling of a host can fall through to the
// host-less routes. path must be the result of CanonicalPath; it is
// compared case-insensitively (ASCII), because some upstreams (IIS,
// case-insensitive file systems) serve "/ADMIN" as "/admin". method is
// compared case-insensitively too: RFC 9110 says methods are
// case-sensitive, but frameworks such as Werkzeug upper-case them, so
// "post" must get the decision of "POST".
//
// A wildcard "*.example.com" covers exactly one label, as in Caddy,
// Traefik and TLS certificates (RFC 6125 §6.4.3): a.example.com, not
// a.b.example.com nor example.com. So at most one wildcard pattern can
// cover a host (the one for its parent domain), and it is found with one
// map lookup; "longest wildcard first" never has to be decided.
//
// Match does not allocate.
func (r *Router) Match(host, method, path string) (index int, ok bool) {
	if host != "" {
		if i, ok := bestMatch(r.exact[host], method, path); ok {
			return i, true
		}
		if dot := strings.IndexByte(host, '.'); dot > 0 {
			if i, ok := bestMatch(r.wildcard[host[dot+1:]], method, path); ok {
				return i, true
			}
		}
	}
	return bestMatch(r.anyHost, method, path)
}

func bestMatch(l []routeEntry, method, path string) (int, bool) {
	for i := range l {
		e := &l[i]
		if !hasPathPrefixFold(path, e.path) {
			continue
		}
		if e.methods != nil && !containsFold(e.methods, method) {
			continue
		}
		return e.index, true
	}
	return 0, false
}

// hasPathPrefixFold reports whether path starts with prefix (lower case)
// on whole segments, ignoring ASCII case: "/api" matches "/API", "/api/"
// and "/api/x", not "/apix".
func hasPathPrefixFold(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	if len(path) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lower(path[i]) != prefix[i] {
			return false
		}
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}

func containsFold(list []string, s string) bool {
	for _, m := range list {
		if strings.EqualFold(m, s) {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// UpstreamPath is the path the upstream receives for canonical, a request
// path this route matched: canonical itself, or with StripPrefix the rest
// after the route's path ("/api/x" → "/x", "/api" → "/"). The prefix is
// removed in whatever case the client wrote it.
func (rt *Route) UpstreamPath(canonical string) string {
	if !rt.StripPrefix || rt.Path == "/" || len(canonical) < len(rt.Path) {
		return canonical
	}
	rest := canonical[len(rt.Path):]
	if rest == "" {
		return "/"
	}
	return rest
}

// ServesHost reports whether some route serves host (a Host.Name from
// ParseHost): a route names it, a wildcard covers it, or a route names no
// host at all.
func (r *Router) ServesHost(host string) bool {
	if len(r.anyHost) > 0 {
		return true
	}
	if host == "" {
		return false
	}
	if _, ok := r.exact[host]; ok {
		return true
	}
	if dot := strings.IndexByte(host, '.'); dot > 0 {
		_, ok := r.wildcard[host[dot+1:]]
		return ok
	}
	return false
}
