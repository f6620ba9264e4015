package gateway

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
)

// Check loads the config at path and, when it is valid, writes its route
// table to w, then its Warnings, one "warning: …" line each. Otherwise it
// returns every problem as an errors.Join of *ConfigError, one per line of
// err.Error(), and writes nothing: this is `authgate check`, which prints
// them and exits 1.
func Check(w io.Writer, path string) error {
	c, err := Load(path)
	if err != nil {
		return err
	}
	if err := WriteRouteTable(w, c); err != nil {
		return err
	}
	for _, warning := range c.Warnings() {
		if _, err := fmt.Fprintf(w, "warning: %s\n", warning); err != nil {
			return err
		}
	}
	return nil
}

// WriteRouteTable prints c's routes as an aligned table in config order:
// what each matches, its policy and where it sends requests.
func WriteRouteTable(w io.Writer, c *Config) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tNAME\tHOSTS\tMETHODS\tPATH\tAUTH\tUPSTREAM\tSTRIP_PREFIX\tLOGIN_REDIRECT\tFORWARD_TOKEN")
	for i := range c.Routes {
		rt := &c.Routes[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			i, rt.Name, orStar(rt.Hosts), orStar(rt.Methods), rt.Path, policy(rt),
			c.describeUpstream(rt.Upstream), yesNo(rt.StripPrefix), loginRedirect(rt), yesNo(rt.ForwardToken))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nauth API: %s/* (served by authgate; no route shadows it)\n", c.AuthAPI.Prefix)
	return err
}

func orStar(l []string) string {
	if len(l) == 0 {
		return "*"
	}
	return strings.Join(l, ",")
}

func policy(rt *Route) string {
	if len(rt.Roles) == 0 {
		return rt.Auth
	}
	return rt.Auth + " (roles: " + strings.Join(rt.Roles, ",") + ")"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// loginRedirect is "-" on public routes, where nobody is sent to log in.
func loginRedirect(rt *Route) string {
	if rt.Auth == "public" || rt.LoginRedirect == nil {
		return "-"
	}
	return yesNo(*rt.LoginRedirect)
}

// describeUpstream shows a pool with its targets and balance policy:
// "users → http://10.0.0.5:8080, http://10.0.0.6:8080 (round_robin)".
func (c *Config) describeUpstream(up string) string {
	pool, ok := c.Upstream.Upstreams[up]
	if !ok {
		return up
	}
	return fmt.Sprintf("%s → %s (%s)", up, strings.Join(pool.Targets, ", "), pool.Balance)
}

// Explain answers `authgate route METHOD URL`: the canonical path the
// request is routed on (or why it is refused with 400), the route that
// matches with its policy and upstream, and the path the upstream
// receives — or that no route matches (404). rawURL may be absolute
// ("https://app.example.com/api/x") or a path ("/api/x", no host).
func Explain(c *Config, method, rawURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "request:  %s %s\n", method, rawURL)
	if !strings.HasPrefix(rawURL, "/") && !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL // "app.example.com/x": a host, not a path
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		fmt.Fprintf(&b, "result:   400 Bad Request: the URL cannot be parsed: %v\n", err)
		return b.String()
	}
	escaped := u.EscapedPath()
	if escaped == "" {
		escaped = "/"
	}
	canonical, err := CanonicalPath(escaped)
	if err != nil {
		fmt.Fprintf(&b, "result:   400 Bad Request: %v\n", err)
		return b.String()
	}
	host, err := ParseHost(u.Host)
	if err != nil {
		fmt.Fprintf(&b, "result:   400 Bad Request: %v\n", err)
		return b.String()
	}
	fmt.Fprintf(&b, "host:     %s\n", orNone(u.Host))
	fmt.Fprintf(&b, "path:     %s\n", canonical)
	if pre := c.AuthAPI.Prefix; canonical == pre || strings.HasPrefix(canonical, pre+"/") {
		fmt.Fprintf(&b, "result:   served by the auth API (%s)\n", pre)
		return b.String()
	}
	for i := range c.Routes {
		if res := c.Routes[i].OAuthResource; res != "" && strings.HasPrefix(canonical, resourceWellKnown) {
			if _, meta, msg := resourceTarget(res); msg == "" && meta == (resourceKey{host.Name, canonical}) {
				fmt.Fprintf(&b, "result:   the RFC 9728 metadata of %s (routes[%d].oauth_resource): GET and HEAD, no token needed\n", c.Routes[i].Name, i)
				return b.String()
			}
		}
	}
	r, err := NewRouter(c.Routes)
	if err != nil {
		fmt.Fprintf(&b, "result:   the routes are invalid: %v\n", err)
		return b.String()
	}
	i, ok := r.Match(host.Name, method, canonical)
	if !ok {
		b.WriteString("result:   no route: 404 Not Found\n")
		return b.String()
	}
	rt := &c.Routes[i]
	fmt.Fprintf(&b, "route:    %s (routes[%d])\n", rt.Name, i)
	switch {
	case rt.Auth == "public":
		b.WriteString("policy:   public: no token needed; client identity headers are removed\n")
	case len(rt.Roles) > 0:
		fmt.Fprintf(&b, "policy:   required: a valid token with one of the roles %s\n", strings.Join(rt.Roles, ", "))
	default:
		b.WriteString("policy:   required: a valid token\n")
	}
	if rt.Auth != "public" {
		if rt.LoginRedirect == nil || *rt.LoginRedirect { // nil: the default, true
			fmt.Fprintf(&b, "no token: 401 for API clients; browsers are sent to %s/login\n", c.AuthAPI.Prefix)
		} else {
			b.WriteString("no token: 401\n")
		}
	}
	if rt.OAuthResource != "" {
		fmt.Fprintf(&b, "401s:     name the RFC 9728 metadata of %s (oauth_resource)\n", rt.OAuthResource)
	}
	fmt.Fprintf(&b, "upstream: %s\n", c.describeUpstream(rt.Upstream))
	fmt.Fprintf(&b, "forwards: %s", rt.UpstreamPath(canonical))
	if rt.StripPrefix && rt.Path != "/" {
		fmt.Fprintf(&b, " (strip_prefix removes %s)", rt.Path)
	}
	b.WriteString("\n")
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none: only routes without hosts apply)"
	}
	return s
}
