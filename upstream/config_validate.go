package upstream

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/conf"
)

// Validate reports every problem in the identity_headers and upstreams
// sections, with key paths from the top of the file
// ("upstreams.users.targets[0]"). It expects defaults to have been applied
// (gateway's loader does that) and changes nothing.
func (c *Config) Validate() error {
	var p conf.Problems
	c.IdentityHeaders.validate(&p)
	names := make([]string, 0, len(c.Upstreams))
	for name := range c.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names) // stable report order; the loader re-sorts by line anyway
	for _, name := range names {
		pool := c.Upstreams[name]
		pool.validate(&p, conf.Join("upstreams", name), name)
	}
	return p.Err()
}

func (h *IdentityHeaders) validate(p *conf.Problems) {
	fields := []struct{ key, name string }{
		{"user_id", h.UserID},
		{"username", h.Username},
		{"email", h.Email},
		{"roles", h.Roles},
		{"assertion", h.Assertion},
	}
	seen := map[string]string{} // folded name → key that used it first
	for _, f := range fields {
		path := "identity_headers." + f.key
		if f.name == "" {
			continue // "" turns that header off
		}
		const invalid = "%q is not a valid header name: use letters, digits and - (RFC 9110 §5.1)"
		if !ValidHeaderName(f.name) {
			p.Addf(path, invalid, f.name)
			continue
		}
		// The proxy strips client copies regardless of case and of "_"
		// versus "-" (some servers treat them alike), so two names equal
		// under that folding are the same header.
		folded := normalizeName(f.name)
		if reservedHeader(folded) {
			p.Addf(path, "%q is reserved: the proxy or HTTP itself sets it; pick an X-Auth-… name", f.name)
			continue
		}
		if first, dup := seen[folded]; dup {
			p.Addf(path, "%q is the same header as identity_headers.%s", f.name, first)
			continue
		}
		seen[folded] = f.key
		if strings.Contains(f.name, "_") {
			// Servers drop or fold such names (nginx, CGI): the header
			// the proxy sets might never arrive as written.
			p.Addf(path, invalid, f.name)
		}
	}
}

// ValidHeaderName reports whether s is an RFC 9110 §5.1 field name: a
// non-empty token. It is the one check of header names (and of the other
// tokens of the config: methods, upgrade protocols).
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHeaderTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isHeaderTokenChar is RFC 9110 §5.6.2 tchar.
func isHeaderTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (pc *PoolConfig) validate(p *conf.Problems, path, name string) {
	switch {
	case strings.TrimSpace(name) == "":
		p.Addf(path, "pool name must not be empty")
	case strings.ContainsAny(name, ":/"):
		// A name with ":" or "/" could be read as a URL or as builtin:…
		// in a route's upstream.
		p.Addf(path, "pool name %q must not contain \":\" or \"/\"", name)
	}
	if len(pc.Targets) == 0 {
		p.Addf(conf.Join(path, "targets"), "at least one target is required, e.g. [http://10.0.0.5:8080]")
	}
	seen := map[string]int{}
	for i, t := range pc.Targets {
		tp := fmt.Sprintf("%s.targets[%d]", path, i)
		u, err := ParseTarget(t)
		if err != nil {
			p.Add(tp, err)
			continue
		}
		key := u.String()
		if first, dup := seen[key]; dup {
			p.Addf(tp, "duplicate of targets[%d]", first)
			continue
		}
		seen[key] = i
	}
	switch pc.Balance {
	case "round_robin", "least_conn", "random":
	default:
		p.Addf(conf.Join(path, "balance"), "%q is not a balance policy: must be round_robin, least_conn or random", pc.Balance)
	}
	positive := func(key string, d conf.Duration) {
		if d <= 0 {
			p.Addf(conf.Join(path, key), "must be greater than 0")
		}
	}
	positive("timeout", pc.Timeout)
	positive("dial_timeout", pc.DialTimeout)
	if pc.MaxIdleConnsPerTarget < 1 {
		p.Addf(conf.Join(path, "max_idle_conns_per_target"), "must be at least 1")
	}
	hc := pc.HealthCheck
	hp := conf.Join(path, "health_check")
	if hc.Path != "" && !strings.HasPrefix(hc.Path, "/") {
		p.Addf(conf.Join(hp, "path"), "%q must start with \"/\"", hc.Path)
	}
	positive("health_check.interval", hc.Interval)
	positive("health_check.timeout", hc.Timeout)
	if hc.Interval > 0 && hc.Timeout >= hc.Interval {
		p.Addf(conf.Join(hp, "timeout"), "must be shorter than interval (%s)", hc.Interval)
	}
}

// ParseTarget parses an upstream target: an absolute http or https URL with
// a host, and without credentials, query or fragment (the proxy joins the
// request's own path and query onto it). The error never repeats a
// password.
func ParseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", redactUserinfo(raw))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q must be an http:// or https:// URL", redactUserinfo(raw))
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", redactUserinfo(raw))
	case u.User != nil:
		return nil, fmt.Errorf("%q must not carry credentials: the gateway sets identity headers instead", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("%q must not have a query", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("%q must not have a fragment", raw)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q has an invalid port", raw)
		}
	}
	return u, nil
}

// redactUserinfo hides anything between "://" and "@" so an unparseable URL with a
// password in it never reaches an error message.
func redactUserinfo(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if slash := strings.IndexByte(rest, '/'); slash < 0 || at < slash {
			return scheme + "://xxxxx@" + rest[at+1:]
		}
	}
	return raw
}
