package gateway

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sync"

	"github.com/authgate/authgate/internal/conf"
	"github.com/authgate/authgate/upstream"
)

// routing is everything a reload replaces: the router, one handler per
// route, the upstream pools behind them and the trusted proxy list. It is
// immutable once built; the server swaps whole values atomically.
type routing struct {
	cfg       *Config
	router    *Router
	routes    []*routeHandler // parallel to cfg.Routes
	upstreams *upstream.Upstreams
	trusted   []netip.Prefix
	// assertion reports that identity_headers.assertion is set, so a
	// protected request needs a signed assertion. It belongs here, not
	// on the Server: identity headers change on reload.
	assertion bool
	// resources are the metadata documents of the routes with
	// oauth_resource (resource.go); nil when no route has one.
	resources map[resourceKey]resourceDoc

	cancel context.CancelFunc
}

// routeHandler is one route, resolved at construction: its policy and the
// proxy to its upstream.
type routeHandler struct {
	route         *Route
	name          string
	required      bool
	roles         []string
	loginRedirect bool
	upgrades      []string        // protocols a client may switch to (Route.Upgrades)
	upstreamRef   string          // pool name, URL or builtin:echo, for logs
	proxy         *upstream.Proxy // nil: upstream none, forward-auth checks only
	// challenge is the resource_metadata parameter its 401s add to
	// WWW-Authenticate (Route.OAuthResource); "" for most routes.
	challenge string
}

// newRouting builds the routing for cfg without starting anything.
func (s *Server) newRouting(cfg *Config) (*routing, error) {
	router, err := NewRouter(cfg.Routes)
	if err != nil {
		return nil, err
	}
	trusted, err := parseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	ups, err := upstream.New(cfg.Upstream, upstream.Options{
		ErrorWriter:    s.writeError,
		Registerer:     s.metrics.registry,
		Logger:         s.logger,
		GatewayCookies: s.auth.CookieNames(),
	})
	if err != nil {
		return nil, err
	}
	rt := &routing{cfg: cfg, router: router, upstreams: ups, trusted: trusted,
		assertion: cfg.Upstream.IdentityHeaders.Assertion != ""}
	for i, r := range cfg.Routes {
		// strip_prefix is applied by the gateway (Route.UpstreamPath), in
		// whatever case the client wrote the prefix, so the proxy gets the
		// final path and strips nothing itself.
		var h *upstream.Proxy
		if r.Upstream != UpstreamNone {
			h, err = ups.Handler(r.Upstream, upstream.Route{Name: r.Name, ForwardToken: r.ForwardToken})
			if err != nil {
				return nil, fmt.Errorf("routes[%d].upstream: %w", i, err)
			}
		}
		rh := &routeHandler{
			route:         &cfg.Routes[i],
			name:          r.Name,
			required:      r.Auth != "public",
			roles:         r.Roles,
			loginRedirect: r.LoginRedirect == nil || *r.LoginRedirect,
			upgrades:      r.Upgrades,
			upstreamRef:   r.Upstream,
			proxy:         h,
		}
		if r.OAuthResource != "" {
			if rt.resources == nil {
				rt.resources = map[resourceKey]resourceDoc{}
			}
			if err := s.resolveResource(i, rh, rt.resources); err != nil {
				ups.Close()
				return nil, err
			}
		}
		rt.routes = append(rt.routes, rh)
	}
	return rt, nil
}

// start runs the pools' health checks until stop (or ctx ends).
func (rt *routing) start(ctx context.Context, wg *sync.WaitGroup) {
	ctx, rt.cancel = context.WithCancel(ctx)
	wg.Go(func() {
		// Health checking ends with its context; passive ejection works
		// without it, so there is nothing to do with its error.
		_ = rt.upstreams.Run(ctx)
	})
}

// stop ends the health checks and retires the pools' metrics and idle
// connections. Requests already on this routing finish normally.
func (rt *routing) stop() {
	if rt.cancel != nil {
		rt.cancel()
	}
	rt.upstreams.Close()
}

// parseTrustedProxies reads the validated trusted_proxies.
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range list {
		pre, ok := parseTrustedProxy(s)
		if !ok {
			return nil, &conf.Problem{Path: fmt.Sprintf("trusted_proxies[%d]", i), Msg: fmt.Sprintf("%q is not a CIDR or an IP address", s)}
		}
		out = append(out, pre)
	}
	return out, nil
}

// restartOnlyChanges names the sections that differ between a and b but
// take effect only on restart. They are compared by value: several hold
// pointers (tls.hsts, log.access) that two loads of the same file never
// share.
func restartOnlyChanges(a, b *Config) []string {
	var keys []string
	for _, s := range []struct {
		key  string
		a, b any
	}{
		{"listen", a.Listen, b.Listen},
		{"tls", a.TLS, b.TLS},
		{"database, redis, tokens, accounts or auth_api",
			[]any{a.Database, a.Redis, a.Tokens, a.Accounts, a.AuthAPI},
			[]any{b.Database, b.Redis, b.Tokens, b.Accounts, b.AuthAPI}},
		{"identity_providers", a.Federation, b.Federation},
		// The login page's allow-list is the auth API's, built once.
		{"forward_auth.redirect_hosts", a.ForwardAuth.RedirectHosts, b.ForwardAuth.RedirectHosts},
		{"oauth2", a.OAuth2, b.OAuth2},
		{"limits", a.Limits, b.Limits},
		{"runtime", a.Runtime, b.Runtime},
		{"log", a.Log, b.Log},
	} {
		if !reflect.DeepEqual(s.a, s.b) {
			keys = append(keys, s.key)
		}
	}
	return keys
}
